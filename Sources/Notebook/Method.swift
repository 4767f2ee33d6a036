// Method.swift — a fine-tuning method as a value a lesson can run over seeds: how to build its
// tuner for a seed, which learning rates to try, and its optimizer.

import Corpus
import Foundation
import Llama
import PEFT
import TensorKit
import Training

public struct Method {
    /// The name in tables and figures.
    public var name: String
    /// The setting, for the tuning file (the name, unless two settings share a name).
    public var key: String
    /// Learning rates a sweep tries, smallest first.
    public var learningRates: [Float]
    /// The learning rate used without tuning (`--quick`), and by an explicit `--lr`.
    public var defaultLearningRate: Float
    /// A fixed learning rate: no tuning (a lesson's own override, such as `--lr`).
    public var fixedLearningRate: Float?
    /// Builds the tuner for one seed (typically a fresh copy of the base, wrapped by the method).
    public var prepare: (_ seed: UInt64) throws -> any Tuner
    /// The optimizer for a tuner at a learning rate (default: AdamW over the tuner's groups, no
    /// weight decay).
    public var optimizer: (_ tuner: any Tuner, _ learningRate: Float) -> any Optimizer

    public init(_ name: String, key: String? = nil, learningRates: [Float], defaultLearningRate: Float,
                optimizer: @escaping (any Tuner, Float) -> any Optimizer
                    = { AdamW($0.parameterGroups(weightDecay: 0), learningRate: $1) },
                prepare: @escaping (_ seed: UInt64) throws -> any Tuner) {
        self.name = name; self.key = key ?? name
        self.learningRates = learningRates; self.defaultLearningRate = defaultLearningRate
        self.prepare = prepare; self.optimizer = optimizer
    }

    /// The same method at a fixed learning rate (nil keeps it tuned).
    public func fixed(at learningRate: Float?) -> Method {
        var m = self
        m.fixedLearningRate = learningRate
        return m
    }

    /// The learning rates tried for LoRA-family adapters.
    public static let adapterRates: [Float] = [5e-4, 1e-3, 2e-3, 5e-3, 1e-2]
    /// The learning rates tried when the model's own weights train.
    public static let weightRates: [Float] = [1e-4, 3e-4, 1e-3, 3e-3]
    /// The learning rates tried for soft prompts (their vectors start far from a good prompt).
    public static let promptRates: [Float] = [3e-3, 1e-2, 3e-2, 1e-1]

    /// LoRA with `config` on a fresh copy of the base, initialised from the seed; B at
    /// `loraPlusRatio` times the learning rate (LoRA+).
    public static func lora(_ name: String, _ base: BaseModel, _ config: LoraConfig, key: String? = nil,
                            loraPlusRatio: Float = 1) -> Method {
        Method(name, key: key, learningRates: adapterRates, defaultLearningRate: 2e-3, optimizer: { tuner, lr in
            let groups = (tuner as? LoraModel)?.parameterGroups(loraPlusRatio: loraPlusRatio)
                ?? tuner.parameterGroups(weightDecay: 0)
            return AdamW(groups, learningRate: lr)
        }) { seed in
            try LoraModel(wrapping: base.copy(), config: config, generator: Generator(seed: seed))
        }
    }

    /// QLoRA: LoRA with `config` on a fresh copy of the base whose decoder linear layers are first
    /// quantized with `settings` (NF4, blocks of 64, double quantization by default; embeddings, norms
    /// and lm_head stay float32). The same seed draws the same A as `.lora`, so the two pair up.
    public static func qlora(_ name: String, _ base: BaseModel, _ config: LoraConfig,
                             settings: QuantizationSettings = .qlora, key: String? = nil) -> Method {
        Method(name, key: key, learningRates: adapterRates, defaultLearningRate: 2e-3) { seed in
            let model = base.copy()
            try model.quantizeLinearLayers(settings)
            return try LoraModel(wrapping: model, config: config, generator: Generator(seed: seed))
        }
    }

    /// Any PEFT method's config on a fresh copy of the base, initialised from the seed.
    public static func peft(_ name: String, _ base: BaseModel, _ config: any PeftConfig, key: String? = nil,
                            learningRates: [Float], defaultLearningRate: Float) -> Method {
        var config = config
        config.baseModelNameOrPath = base.folder.path
        // Prompt tuning's TEXT init reads the text as PEFT does, `tokenizer(text)["input_ids"]`: with the
        // special tokens the tokenizer adds (LLaMA's <s>; none for the project's tokenizers).
        let tokenize = { [tokenizer = base.tokenizer] (text: String) in
            tokenizer.encode(text, addingSpecialTokens: true)
        }
        return Method(name, key: key, learningRates: learningRates,
                      defaultLearningRate: defaultLearningRate) { [config] seed in
            try config.makeTuner(wrapping: base.copy(), context: TunerContext(generator: Generator(seed: seed),
                                                                               tokenize: tokenize))
        }
    }

    /// Training a subset of a model's own parameters (full fine-tuning, freeze-tuning, head only),
    /// on a fresh copy of the base — or, `fromScratch`, on a newly initialised model of its shape.
    public static func selective(_ name: String, _ base: BaseModel, fromScratch: Bool = false,
                                 _ pick: @escaping (LlamaModel) -> SelectiveFineTuning) -> Method {
        Method(name, learningRates: weightRates, defaultLearningRate: 1e-3) { seed in
            pick(fromScratch ? LlamaModel(config: base.model.config, generator: Generator(seed: seed &+ 1000))
                             : base.copy())
        }
    }
}
