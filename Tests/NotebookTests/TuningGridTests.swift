// The learning-rate grid is widened where a tuned choice sits at its edge: which rate comes next.

import Foundation
@testable import Notebook
import Testing

@Suite struct TuningGridTests {
    /// A record as tuning.json stores it: `scores` per rate, the chosen rate the best score.
    func record(_ scores: [(Float, Double)]) throws -> TuningRecord {
        let best = scores.max { $0.1 < $1.1 }!.0
        let points = scores.map { #"{"learning_rate": \#($0.0), "validation_score": \#($0.1), "# +
            #""validation_loss": 1, "held_out_loss": 1}"# }
        let json = #"{"learning_rate": \#(best), "seeds": [1000, 1001], "sweep": [\#(points.joined(separator: ","))]}"#
        return try JSONDecoder().decode(TuningRecord.self, from: Data(json.utf8))
    }

    @Test func theNextRateContinuesTheGridsSpacing() throws {
        #expect(try record([(1e-3, 0.2), (5e-3, 0.4), (1e-2, 0.5)]).rateBeyondEdge == 2e-2)
        #expect(try record([(5e-3, 0.6), (1e-2, 0.5), (2e-2, 0.1)]).rateBeyondEdge == 2.5e-3)
        #expect(try record([(1e-2, 0.1), (3e-2, 0.2), (1e-1, 0.3)]).rateBeyondEdge == 0.33)
        #expect(try record([(2e-2, 0.2), (5e-2, 0.3)]).rateBeyondEdge == 0.13)  // 0.125 to two digits
        #expect(try record([(0.3, 0.2), (0.9, 0.5)]).rateBeyondEdge == 2.7)
    }

    @Test func nothingIsAddedInsideTheGridOrPastItsBounds() throws {
        #expect(try record([(1e-3, 0.2), (5e-3, 0.6), (1e-2, 0.5)]).rateBeyondEdge == nil)  // inside
        #expect(try record([(3.0, 0.2), (10.0, 0.5)]).rateBeyondEdge == nil)                // past 10
        #expect(try record([(3e-6, 0.5), (1e-5, 0.2)]).rateBeyondEdge == nil)              // below 1e-6
        #expect(try record([(1e-3, 0.5)]).rateBeyondEdge == nil)                           // one rate
    }

    /// A score that differs only in the last bits of its mean is a tie, broken by the loss. The
    /// scores are lesson-targets' Wq,Wv on sentiment (0.555 at 5e-3, 0.5549999999999999 at 1e-2);
    /// the losses are made up so that the loss picks the other rate than the rounding would.
    @Test func scoresEqualButForRoundingAreTied() throws {
        let points = [(Float(5e-3), 0.555, 0.2), (1e-2, 0.5549999999999999, 0.1), (2e-3, 0.55, 0.05)].map {
            SweepPoint(learningRate: $0.0, validationScore: $0.1, validationLoss: $0.2, heldOutLoss: 1)
        }
        #expect(TuningRecord.best(points).learningRate == 1e-2)
        #expect(TuningRecord.best(Array(points.reversed())).learningRate == 1e-2)
        #expect(TuningRecord.best([points[0], points[2]]).learningRate == 5e-3, "a real difference in score wins")
    }
}
