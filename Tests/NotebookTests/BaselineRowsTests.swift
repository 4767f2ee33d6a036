// BaselineRowsTests.swift — the no-learning floor that verdicts quote is also shown in tables and figures.

import Testing
@testable import Notebook
import Corpus

@Suite struct BaselineRowsTests {
    /// A test split that leans to the answer the training majority does not give: always giving
    /// that answer beats both chance and majority, so a third row and a third reference line show it.
    @Test func theTestSplitsMostCommonAnswerIsShownWhenItIsTheFloor() throws {
        let base = try BaseModel.load(.quick, log: { _ in })
        var task = try base.world.task("sentiment", sizes: .quick, seed: 0)
        let options = try LessonOptions.parse(["--quick"])
        func experiment() -> Experiment { Experiment(lesson: "baseline-rows-test", options: options, base: base,
                                                    task: task, steps: 1) }

        let counts = Dictionary(grouping: task.train.map(\.answer)) { $0 }.mapValues(\.count)
        let majority = counts.max { ($0.value, $1.key) < ($1.value, $0.key) }!.key
        let others = task.test.filter { $0.answer != majority }, same = task.test.filter { $0.answer == majority }
        try #require(others.count >= 3 && !same.isEmpty)
        task.test = Array(others.prefix(3)) + [same[0]]  // 3 of 4 test items share the minority answer

        let leaning = experiment()
        #expect(leaning.oneAnswerScore == 0.75)
        #expect(leaning.scoreWithoutLearning == 0.75)
        let rows = leaning.baselineRows(columns: 4, scoreColumn: 2)
        #expect(rows.map(\.[0]) == ["chance", "majority answer", "most common test answer"])
        #expect(rows.map(\.[2]) == ["0.500", "0.250", "0.750"])
        #expect(rows.allSatisfy { $0.count == 4 && $0[1] == "—" && $0[3] == "—" })
        #expect(leaning.baselineReferences.map(\.y) == [0.5, 0.25, 0.75])
        #expect(leaning.oneAnswerNote == ", and always the split's own most common answer 0.750")
        #expect(leaning.scoreWithoutLearningPhrase.contains("0.750, what always giving the test split's most common"))

        task.test = Array(same.prefix(3)) + [others[0]]  // the training majority is also the test's: two rows
        let even = experiment()
        #expect(even.baselineRows(columns: 4, scoreColumn: 2).map(\.[0]) == ["chance", "majority answer"])
        #expect(even.baselineReferences.count == 2)
        #expect(even.oneAnswerNote.isEmpty && !even.showsOneAnswer)
    }
}
