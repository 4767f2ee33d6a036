// PromptLineup.swift — the soft-prompt lessons' methods on one base and task (every prompt method
// of PEFT, LoRA and full fine-tuning under the names and tuning keys both lessons share), and the
// instruction a person would write for each task.

import Corpus
import PEFT

/// The soft-prompt lessons' methods on one base and task: every prompt method of PEFT with n
/// virtual tokens, LoRA and full fine-tuning. Two lessons that build the same method get the same
/// name and tuning key, so one can borrow the other's committed learning rate.
public struct PromptLineup {
    /// The frozen base every method starts from.
    public let base: BaseModel
    /// The task the methods train on (it names the tuning records, not the methods).
    public let task: TaskData
    /// Virtual tokens of every prompt method.
    public let n: Int

    public init(base: BaseModel, task: TaskData, n: Int) {
        self.base = base
        self.task = task
        self.n = n
    }

    /// Prompt tuning, x′ = [P ; E(ids)] with P [n, C]; by default initialised from sampled
    /// vocabulary rows.
    public func promptTuning(n count: Int? = nil, initialisation: PromptTuningInit = .sampleVocab,
                             text: String? = nil, label: String? = nil) -> Method {
        .promptTuning(base, n: count ?? n, initialisation: initialisation, text: text, label: label)
    }

    /// Prefix tuning: keys and values of every layer from MLP(P′) (`prefix_projection=True`).
    public var prefixTuning: Method { .prefixTuning(base, n: n) }

    /// P-tuning: the input prompt produced by an MLP or a BiLSTM + MLP encoder.
    public func pTuning(_ type: PromptEncoderReparameterizationType) -> Method { .pTuning(base, n: n, type) }

    /// P-tuning v2: the deep prefix trained directly, P [n, L·2·C_kv] (`prefix_projection=False`).
    public var pTuningV2: Method { .pTuningV2(base, n: n) }

    /// LoRA, h = W₀x + (α/r)·B·A·x with r = 8, α = 16 on q_proj and v_proj (PEFT's defaults for LLaMA).
    public var lora: Method {
        .lora("LoRA r=8 (q,v)", base, LoraConfig(r: 8, loraAlpha: 16), key: "lora 8 16.0 q_proj,v_proj")
    }

    /// Full fine-tuning: every weight trains.
    public var full: Method { .selective("full fine-tuning", base) { .full($0) } }

    /// Every method in the comparison's order: prompt methods, LoRA, full fine-tuning last.
    public var all: [Method] { [promptTuning(), prefixTuning, pTuning(.mlp), pTuning(.lstm), pTuningV2, lora, full] }
}

/// The instruction a person would write for a task: a hard prompt, or the text a TEXT-initialised
/// prompt starts from.
public func instruction(forTask task: String) -> String {
    switch task {
    case "sentiment": "Decide whether the review is positive or negative."
    case "topic": "Decide whether the text is about sports, food, weather, travel or music."
    case "qa": "Answer the question about the person with one word."
    case "data-to-text": "Write one sentence that states every field of the record."
    default: "Answer the question."
    }
}
