// AdaLoraModel.swift — `get_peft_model` for AdaLoRA: wrap the target linear layers in SVD-form
// adapters, add the orthogonality penalty to the loss, run the rank allocator after every
// optimizer step (PEFT's `update_and_allocate`), and save/load adapters cut to the kept ranks.
//
// update_and_allocate(t), T = total_step:
//   t < T − tfinal:   update the scores; if the schedule says so, prune to its budget
//   t = T − tfinal:   prune to the target budget (no score update), fix rank_pattern, reset the scores
//   t > T − tfinal:   zero the singular values rank_pattern drops (the optimizer revived them)

import Foundation
import Llama
import SafeTensors
import TensorKit
import Training

/// Where a training step falls in AdaLoRA's schedule (the names of PEFT's phases).
public enum AllocationPhase: String, Sendable {
    case warmUp = "warm-up"
    case budgeting
    case finalAllocation = "final allocation"
    case finalFineTuning = "final fine-tuning"
}

/// What `updateAndAllocate` did at one step.
public struct AllocationStep: Sendable {
    public var step: Int
    public var phase: AllocationPhase
    /// The schedule's budget at this step.
    public var budget: Int
    /// The pruning done at this step, if any.
    public var pruning: Pruning?
    /// Whether singular values were zeroed at this step (a pruning, or the fixed rank pattern).
    public var masked: Bool
    /// Triplets kept per module after this step (by the current rank pattern), in adapter order.
    public var ranks: [(module: String, rank: Int)]
}

public final class AdaLoraModel: LayerAdapterTuner {
    public let model: LlamaModel
    /// The config; the allocator writes its `rankPattern`.
    public private(set) var config: AdaLoraConfig
    /// The adapted layers, in model order, with their module names.
    public let adapters: [(name: String, layer: AdaLoraLinear)]
    public let allocator: RankAllocator
    public let schedule: BudgetSchedule
    /// Told after every `updateAndAllocate` (for progress lines).
    public var onAllocation: ((AllocationStep) -> Void)?

    public var peftConfig: (any PeftConfig)? { config }

    /// Wraps the layers `config.targetModules` selects with fresh `init_r`-triplet adapters and
    /// freezes everything else. Throws for impossible settings and for a `rank_pattern` that does
    /// not fit the adapted modules.
    public convenience init(wrapping model: LlamaModel, config: AdaLoraConfig, generator: Generator) throws {
        try self.init(model: model, config: config, cutToRankPattern: false, generator: generator)
    }

    /// `cutToRankPattern`: hold only the triplets `config.rankPattern` keeps (how PEFT loads an
    /// adapter saved after allocation); otherwise all `init_r`.
    private init(model: LlamaModel, config: AdaLoraConfig, cutToRankPattern: Bool, generator: Generator) throws {
        try config.validate()
        let slots = try config.shared.baseSlots(in: model)
        var config = config
        config.rankPattern = try AdaLoraModel.rankPattern(config.rankPattern, modules: slots.map(\.name))
        model.setTrainable(false)
        let adapters = slots.map { slot in
            let kept = config.rankPattern?[AdaLoraConfig.rankPatternKey(slot.name)]
            let triplets = cutToRankPattern ? kept.map { k in k.indices.filter { k[$0] } } : nil
            let layer = AdaLoraLinear(base: slot.layer.base, triplets: triplets ?? Array(0..<config.initR),
                                      config: config, initialization: config.initLoraWeights, generator: generator)
            slot.layer = layer
            return (slot.name, layer)
        }
        self.model = model
        self.config = config
        self.adapters = adapters
        allocator = RankAllocator(beta1: config.beta1, beta2: config.beta2)
        schedule = BudgetSchedule(initialBudget: adapters.reduce(0) { $0 + $1.1.r },
                                  targetBudget: config.targetR * adapters.count, tinit: config.tinit,
                                  tfinal: config.tfinal, totalStep: config.totalStep ?? 0, deltaT: config.deltaT)
    }

    /// `pattern` with keys `<module>.lora_E` (PEFT's in-memory `.lora_E.default` accepted), or an
    /// error when a key names no adapted module or a module has no entry (lengths: `validate()`).
    static func rankPattern(_ pattern: [String: [Bool]]?, modules: [String]) throws -> [String: [Bool]]? {
        guard let pattern else { return nil }
        var normalized: [String: [Bool]] = [:]
        for (key, kept) in pattern {
            let name = key.hasSuffix(".default") ? String(key.dropLast(".default".count)) : key
            guard name.hasSuffix(".lora_E"), modules.contains(String(name.dropLast(".lora_E".count))) else {
                throw PEFTError("rank_pattern key '\(key)' names no adapted module; keys are '<module>.lora_E' for the "
                    + "adapted modules, e.g. '\(AdaLoraConfig.rankPatternKey(modules[0]))'")
            }
            normalized[name] = kept
        }
        if let missing = modules.first(where: { normalized[AdaLoraConfig.rankPatternKey($0)] == nil }) {
            throw PEFTError("rank_pattern has no entry for \(missing): it must list every adapted module "
                + "(\(modules.count) here) or be null")
        }
        return normalized
    }

    // MARK: Tuner

    /// Every adapter tensor under the key PEFT saves it with (no `.weight` suffix).
    public var namedTrainableParameters: [(name: String, tensor: Tensor)] {
        adapters.flatMap { name, layer in
            layer.namedTensors.map { ("base_model.model.\(name).\($0.suffix)", $0.tensor) }
        }
    }

    /// orth_reg_weight · R / N: R the orthogonality penalty of every A and B, N = 2 × modules.
    public func regularizer() -> Tensor? {
        let penalty = orthogonalityPenalty(rowOrthonormal: adapters.map(\.layer.loraA),
                                           columnOrthonormal: adapters.map(\.layer.loraB))
        return penalty * Float(config.orthRegWeight / Double(2 * adapters.count))
    }

    /// R / N without the weight (the `orth_reg` of the golden files).
    public var orthogonalRegularization: Float {
        withoutGrad {
            orthogonalityPenalty(rowOrthonormal: adapters.map(\.layer.loraA),
                                 columnOrthonormal: adapters.map(\.layer.loraB))
        }.item / Float(2 * adapters.count)
    }

    public func afterOptimizerStep(_ step: Int) { updateAndAllocate(step) }

    // MARK: Rank allocation

    /// The phase of `step`.
    public func phase(of step: Int) -> AllocationPhase {
        let end = schedule.finalAllocationStep
        if step <= config.tinit { return .warmUp }
        return step < end ? .budgeting : step == end ? .finalAllocation : .finalFineTuning
    }

    /// PEFT's `update_and_allocate(global_step)`: call after `optimizer.step()`, before the
    /// gradients are cleared (`Tuner.afterOptimizerStep` does).
    @discardableResult
    public func updateAndAllocate(_ step: Int) -> AllocationStep {
        let end = schedule.finalAllocationStep
        let (budget, mask) = schedule(step)
        var pruning: Pruning? = nil, masked = false
        if step < end {
            allocator.updateScores(adapters.map(\.layer))
            if mask { pruning = prune(to: budget) }
        } else if step == end {
            pruning = prune(to: budget)
            allocator.reset()
        } else if let pattern = config.rankPattern {
            for (name, layer) in adapters {
                let kept = pattern[AdaLoraConfig.rankPatternKey(name)]!
                layer.zeroSingularValues(keeping: layer.triplets.map { kept[$0] })
            }
            masked = true
        }
        let event = AllocationStep(step: step, phase: phase(of: step), budget: budget, pruning: pruning,
                                   masked: masked || pruning != nil, ranks: ranks)
        onAllocation?(event)
        return event
    }

    /// Prunes to `budget` and records the decision in `config.rankPattern` (over all init_r triplets).
    private func prune(to budget: Int) -> Pruning {
        let pruning = allocator.prune(adapters, toBudget: budget, initialBudget: schedule.initialBudget)
        var pattern: [String: [Bool]] = [:]
        for (name, layer) in adapters {
            var full = [Bool](repeating: false, count: config.initR)
            for (i, t) in layer.triplets.enumerated() { full[t] = pruning.kept[name]![i] }
            pattern[AdaLoraConfig.rankPatternKey(name)] = full
        }
        config.rankPattern = pattern
        return pruning
    }

    /// Which held triplets of `name`'s layer the rank pattern keeps (all without a pattern).
    func keptTriplets(_ name: String, _ layer: AdaLoraLinear) -> [Bool] {
        guard let kept = config.rankPattern?[AdaLoraConfig.rankPatternKey(name)] else {
            return [Bool](repeating: true, count: layer.r)
        }
        return layer.triplets.map { kept[$0] }
    }

    /// Triplets kept per module, in adapter order (held triplets before any pruning).
    public var ranks: [(module: String, rank: Int)] {
        adapters.map { name, layer in (name, keptTriplets(name, layer).filter { $0 }.count) }
    }

    // MARK: Files

    /// Writes `adapter_config.json` (with `rank_pattern`) and `adapter_model.safetensors` as PEFT's
    /// `save_pretrained`: only the kept triplets, A [r', in], E [r', 1], B [out, r'] (r' may be 0).
    public func save(to folder: URL) throws {
        var tensors: [String: Tensor] = [:]
        for (name, layer) in adapters {
            for (suffix, t) in layer.tensors(keeping: keptTriplets(name, layer)) {
                tensors["base_model.model.\(name).\(suffix)"] = t
            }
        }
        try AdapterFolder.write(config, tensors: tensors, to: folder)
    }

    /// Loads a PEFT AdaLoRA adapter folder onto `model` (which it wraps).
    public static func load(from folder: URL, onto model: LlamaModel) throws -> AdaLoraModel {
        guard let tuner = try AdapterFolder.load(from: folder, onto: model) as? AdaLoraModel else {
            throw FileFormatError(file: folder.appendingPathComponent(AdapterFolder.configName).path,
                                  problem: "not an AdaLoRA adapter (peft_type ADALORA)")
        }
        return tuner
    }

    /// `config` with the tensors of `weights` (read from `file`) on `model`: each layer holds the
    /// triplets `rank_pattern` keeps, and the scale stays lora_alpha / (init_r + 1e-5).
    static func load(_ config: AdaLoraConfig, weights: SafeTensorsFile, file: URL,
                     onto model: LlamaModel) throws -> AdaLoraModel {
        let tuner = try AdaLoraModel(model: model, config: config, cutToRankPattern: true,
                                     generator: Generator(seed: 0))
        var unused = Set(weights.tensors.keys)
        for (key, tensor) in tuner.namedTrainableParameters {
            try AdapterFolder.copy(weights[key], into: tensor, key: key, file: file)
            unused.remove(key)
        }
        AdapterFolder.warnUnused(unused, file: file)
        tuner.isTraining = false
        return tuner
    }
}
