// MPTOptions.swift — `peft train --method mpt`: multitask prompt tuning's flags, PEFT's
// `MultitaskPromptTuningConfig` fields. `--num-virtual-tokens`, `--prompt-tuning-init` and
// `--prompt-tuning-init-text` are shared with prompt tuning (`PromptOptions`).
//
//   source stage:  peft train --method mpt --data qa-city,qa-job,qa-color --out source
//   target stage:  peft train --method mpt --data qa-pet --prompt-tuning-init average-source-tasks \
//                      --prompt-tuning-init-state-dict-path source/adapter_model.safetensors --out target

import ArgumentParser
import PEFT

struct MPTOptions: ParsableArguments {
    @Option(help: ArgumentHelp("MPT: num_tasks, the tasks with their own factors (default: the tasks in --data; 1 "
        + "when starting from a source's average or one source task)."))
    var numTasks: Int?
    @Option(help: "MPT: num_ranks, the rank of each task's matrix cols·rows.") var numRanks = 1
    @Option(help: ArgumentHelp("MPT: prompt_tuning_init_state_dict_path, the source stage's "
        + "adapter_model.safetensors (or its folder), read by --prompt-tuning-init average-source-tasks, "
        + "exact-source-task or only-source-shared."))
    var promptTuningInitStateDictPath: String?
    @Option(help: "MPT: prompt_tuning_init_task, the source task exact-source-task copies.")
    var promptTuningInitTask = 0

    /// `--method mpt`, for data holding `tasksInData` tasks (ids 0..<tasksInData).
    func config(prompt: PromptOptions, tasksInData: Int) throws -> MultitaskPromptTuningConfig {
        guard let initialization = MultitaskPromptTuningInit(name: prompt.promptTuningInit) else {
            let names = MultitaskPromptTuningInit.allCases.map {
                $0.rawValue.lowercased().replacingOccurrences(of: "_", with: "-")
            }
            throw ValidationError("--prompt-tuning-init for mpt must be one of " + names.joined(separator: ", "))
        }
        let startsFromOneTask = initialization == .averageSourceTasks || initialization == .exactSourceTask
        let tasks = numTasks ?? (startsFromOneTask ? 1 : max(1, tasksInData))
        if tasks < tasksInData {
            throw ValidationError("the data holds \(tasksInData) tasks (ids 0..<\(tasksInData)) but --num-tasks is "
                + "\(tasks); give every task its factors")
        }
        return MultitaskPromptTuningConfig(numVirtualTokens: prompt.numVirtualTokens, numTasks: tasks,
                                           numRanks: numRanks, promptTuningInit: initialization,
                                           promptTuningInitText: prompt.promptTuningInitText,
                                           promptTuningInitStateDictPath: promptTuningInitStateDictPath,
                                           promptTuningInitTask: promptTuningInitTask)
    }
}
