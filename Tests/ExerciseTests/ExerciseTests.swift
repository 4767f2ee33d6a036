// The exercises' checker: the reference solutions pass every case, a student who follows the
// documentation passes every case, the shipped stubs fail every case (a checker that cannot fail is
// no checker), typical mistakes are caught with messages that say what is wrong, and the
// `exercises` command's output and exit codes.

import ExerciseAnswers
import ExerciseBook
import Foundation
import Testing

/// The exercises whose cases `answers` does not all pass, with the first problem of each.
private func failures(_ answers: any ExerciseBook.Type, seed: UInt64 = 0) -> [String: String] {
    var out: [String: String] = [:]
    for exercise in Exercise.all {
        let result = Checker.check(exercise, answers: answers, seed: seed)
        if let problem = result.cases.first(where: { !$0.passed })?.problem { out[exercise.name] = problem }
    }
    return out
}

@Test func referenceSolutionsPassEveryCase() {
    for seed: UInt64 in [0, 1, 2] {
        #expect(failures(ReferenceSolutions.self, seed: seed) == [:], "seed \(seed)")
    }
}

@Test func theDocumentedRulesReproduceTheReference() {
    for seed: UInt64 in [0, 1, 2, 3] {
        #expect(failures(DocumentedAnswers.self, seed: seed) == [:], "seed \(seed)")
    }
}

@Test func untouchedStubsFailEveryCase() {
    // Exercises/Student/Answers.swift as shipped: every placeholder must fail every case.
    for exercise in Exercise.all {
        let result = Checker.check(exercise, answers: StudentAnswers.self)
        let passing = result.cases.filter(\.passed).map(\.number)
        #expect(passing.isEmpty, "\(exercise.name): the stub passes cases \(passing)")
    }
}

@Test func typicalMistakesAreCaughtWithExpectedAndGot() throws {
    let problems = failures(WrongAnswers.self)
    #expect(Set(problems.keys) == Set(Exercise.all.map(\.name)), "a mistake went unnoticed: \(problems.keys.sorted())")
    for (name, problem) in problems {
        #expect(problem.contains("expected") && problem.contains("got"), "\(name): \(problem)")
    }
    #expect(problems["lora-forward"]?.hasPrefix("element [0, ") == true, "\(problems["lora-forward"] ?? "")")
    #expect(problems["lora-merge"]?.hasPrefix("shape: expected [4, 3]") == true, "\(problems["lora-merge"] ?? "")")
    #expect(problems["subspace-similarity"]?.hasPrefix("φ(1, 2)") == true, "\(problems["subspace-similarity"] ?? "")")
    #expect(problems["adalora-budget"]?.hasPrefix("step 4 (") == true, "\(problems["adalora-budget"] ?? "")")
    #expect(problems["prompt-input"]?.contains("virtual token 0") == true, "\(problems["prompt-input"] ?? "")")
    #expect(problems["prompt-labels"]?.contains("batch row") == true, "\(problems["prompt-labels"] ?? "")")

    // ties to the upper code: only the tie case fails, at the byte holding the first midpoint
    let nf4 = try #require(Exercise.named("nf4-quantize"))
    let result = Checker.check(nf4, answers: WrongAnswers.self)
    let failed = result.cases.filter { !$0.passed }
    #expect(failed.map(\.number) == [5])
    #expect(failed.first?.problem == "packed byte 0 (elements 0 and 1): expected 0xF0 (codes 15 and 0), "
        + "got 0xF1 (codes 15 and 1)")
}

@Test func referenceAgreesWithKnownValues() {
    // AdaLoRA's golden trace (ADALORA-QLORA.md): budgets of steps 0…11.
    let golden = BudgetSettings(initialBudget: 24, targetBudget: 8, tinit: 2, tfinal: 3, totalSteps: 12, deltaT: 2)
    #expect((0..<12).map { ReferenceSolutions.adaLoraBudget(step: $0, schedule: golden).budget }
        == [24, 24, 24, 18, 13, 10, 9, 8, 8, 8, 8, 8])
    // two layers × (q_proj + v_proj), each 8·(32 + 32)
    let model = ModelShape(layers: 2, hiddenSize: 32, intermediateSize: 64, attentionHeads: 4, keyValueHeads: 4)
    #expect(ReferenceSolutions.loraParameterCount(model: model, r: 8, targetModules: ["q_proj", "v_proj"]) == 2048)
    // y = x·W₀ᵀ + (4/1)·(x·Aᵀ)·Bᵀ by hand: x = [1, 2], W₀ = I, A = [1, 1], B = [[1], [0]] → [1 + 12, 2]
    let y = ReferenceSolutions.loraForward(x: Matrix([[1, 2]]), base: Matrix([[1, 0], [0, 1]]), a: Matrix([[1, 1]]),
                                           b: Matrix([[1], [0]]), alpha: 4)
    #expect(y == Matrix([[13, 2]]))
    // ties: 1 → code 15, each midpoint mᵢ → code i; an all-zero block → absmax 0, codes 7
    let midpoints = (0..<15).map { (NF4.code[$0] + NF4.code[$0 + 1]) / 2 }
    let tie = ReferenceSolutions.quantizeNF4([1] + midpoints, blockSize: 16)
    #expect(tie.packed == [0xF0, 0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE])
    #expect(ReferenceSolutions.quantizeNF4([0, 0, 0], blockSize: 4) == NF4Blocks(packed: [0x77, 0x77], absmax: [0]))
    #expect(ReferenceSolutions.promptTuningLabels([5, 6, 7, 8], batchSize: 2, virtualTokens: 1)
        == [-100, 5, 6, -100, 7, 8])
}

@Test func everyExerciseIsComplete() {
    let names = Exercise.all.map(\.name)
    #expect(Set(names).count == names.count)
    let lessons: Set = ["lesson-lora", "lesson-rank", "lesson-qlora", "lesson-adalora", "lesson-soft-prompts"]
    for exercise in Exercise.all {
        #expect(lessons.contains(exercise.lesson), "\(exercise.name): \(exercise.lesson)")
        #expect(exercise.hint.contains(exercise.lesson), "\(exercise.name)'s hint points at its lesson")
        let cases = exercise.cases()
        #expect(cases.count >= 4, "\(exercise.name) has \(cases.count) cases")
        for item in cases {
            let longest = item.inputs.map(\.count).max() ?? 0
            #expect(longest <= 400, "\(exercise.name) '\(item.title)': an input line of \(longest) characters")
        }
    }
}

@Test func theReportShowsMarksProblemsAndTheFirstFailingInputs() throws {
    let exercise = try #require(Exercise.named("prompt-labels"))
    let text = Report.lines(for: Checker.check(exercise, answers: StudentAnswers.self)).joined(separator: "\n")
    #expect(text.hasPrefix("prompt-labels — "))
    #expect(text.contains("  ✗ case 1 of 4: n 2, B 2, T 3"))
    #expect(text.contains("labels: expected length 10 (B·(n+T)), got length 0"))
    #expect(text.components(separatedBy: "inputs:").count == 2, "inputs printed once, for the first failure")
    #expect(text.hasSuffix("0 of 4 cases pass. Hint: swift run exercises hint prompt-labels"))
    let passing = Report.lines(for: Checker.check(exercise, answers: ReferenceSolutions.self))
    #expect(passing.filter { $0.hasPrefix("  ✓") }.count == 4 && passing.last == "  4 of 4 cases pass.")
}

/// Runs the `exercises` executable built beside the test bundle.
private func exercises(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let products = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    var binary = products.appendingPathComponent("exercises")
    if !FileManager.default.fileExists(atPath: binary.path) {  // xctest bundles nest one level deeper on some systems
        binary = products.deletingLastPathComponent().appendingPathComponent("exercises")
    }
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

@Test func theCommandExitsWithZeroOnlyWhenEverythingPasses() throws {
    let solutions = try exercises(["check", "--all", "--solutions"])
    #expect(solutions.status == 0, "\(solutions.output)")
    #expect(solutions.output.contains("Summary: 8 of 8 exercises pass."))
    #expect(!solutions.output.contains("✗"))

    let stubs = try exercises(["check", "--all"])
    #expect(stubs.status == 1)
    #expect(stubs.output.contains("Summary: 0 of 8 exercises pass."))
    #expect(stubs.output.contains("✗ case 1 of 5: x [2, 3], W₀ [4, 3]"))
    #expect(stubs.output.contains("shape: expected [2, 4] (x.rows × base.rows: one output row per input row), "
        + "got [0, 0]"))

    let one = try exercises(["check", "adalora-budget"])
    #expect(one.status == 1 && one.output.contains("step 0 (step ≤ tinit = 2): expected budget 24, prune false; "
        + "got budget 0, prune false"), "\(one.output)")

    let unknown = try exercises(["check", "lora-fwd"])
    #expect(unknown.status != 0 && unknown.output.contains("no exercise named 'lora-fwd'"))

    let hint = try exercises(["hint", "nf4-quantize"])
    #expect(hint.status == 0 && hint.output.contains("swift run lesson-qlora"))

    let list = try exercises(["list"])
    #expect(list.status == 0 && Exercise.all.allSatisfy { list.output.contains($0.name) })
}
