// Each kind of figure rendered into a temporary folder: its data must parse to finite numbers,
// its script must hold the settings the teacher asked for (legend below or none, viridis,
// axes that end at the data, value labels, reference lines), and where gnuplot is installed it
// must draw a PNG without a word on standard error. The text plots must show references and intervals.

import Foundation
import Notebook
import Testing

/// What rendering a figure left behind.
struct Rendered {
    let script: String
    let numbers: [Double]
    let textPlot: String
}

/// The folder the tests draw into: kept, so that the PNGs can be looked at (every figure has its own name).
let figureFolder = FileManager.default.temporaryDirectory.appendingPathComponent("notebook-figures")

/// Renders `figure` into ``figureFolder`` and checks what every figure must satisfy.
func render(_ figure: Figure, sourceLocation: SourceLocation = #_sourceLocation) throws -> Rendered {
    try FileManager.default.createDirectory(at: figureFolder, withIntermediateDirectories: true)
    let result = figure.render(in: figureFolder)
    let script = try String(contentsOf: figureFolder.appendingPathComponent("\(figure.name).gp"), encoding: .utf8)
    let data = try String(contentsOf: figureFolder.appendingPathComponent("\(figure.name).tsv"), encoding: .utf8)
    // Every number of the data (comment lines skipped, quoted labels ignored), as LessonTests reads them.
    let numbers = data.split(separator: "\n").filter { !$0.hasPrefix("#") }
        .flatMap { $0.split(separator: "\t") }.filter { !$0.hasPrefix("\"") }.map { Double($0) ?? .nan }
    let rendered = Rendered(script: script, numbers: numbers, textPlot: figure.textPlot)
    #expect(!numbers.isEmpty && numbers.allSatisfy(\.isFinite), "\(figure.name).tsv: \(data)",
            sourceLocation: sourceLocation)
    #expect(script.hasPrefix("# \(figure.title)\n# Draws \(figure.name).png"), sourceLocation: sourceLocation)
    #expect(!script.contains("outside"), "no legend outside the plot", sourceLocation: sourceLocation)
    guard let gnuplot = Figure.gnuplotPath else {
        guard case .noGnuplot = result else {
            Issue.record("expected .noGnuplot, got \(result)", sourceLocation: sourceLocation)
            return rendered
        }
        return rendered
    }
    guard case .rendered(let png) = result else {
        Issue.record("gnuplot did not draw \(figure.name): \(result)", sourceLocation: sourceLocation)
        return rendered
    }
    let bytes = try Data(contentsOf: png)
    #expect(bytes.count > 1000 && bytes.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]),
            "\(png.lastPathComponent) is not a PNG", sourceLocation: sourceLocation)
    // Once more, to read what gnuplot prints: not even a warning.
    let process = Process()
    process.executableURL = gnuplot
    process.arguments = ["\(figure.name).gp"]
    process.currentDirectoryURL = figureFolder
    let errors = Pipe()
    process.standardError = errors
    try process.run()
    let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0 && message.isEmpty, "gnuplot: \(message)", sourceLocation: sourceLocation)
    return rendered
}

/// Expects every one of `settings` in `script`.
func expect(_ script: String, contains settings: [String], sourceLocation: SourceLocation = #_sourceLocation) {
    for setting in settings {
        #expect(script.contains(setting), "'\(setting)' is missing from\n\(script)", sourceLocation: sourceLocation)
    }
}

/// A loss-like curve from about 2.3 down towards 0.3, a point every `every` steps.
func curve(_ steps: Int, every: Int = 10, speed: Double) -> [(x: Double, y: Double)] {
    stride(from: every, through: steps, by: every).map { (Double($0), 0.3 + 2 * exp(-Double($0) / speed)) }
}

@Suite struct FigureTests {
    @Test func linesWithIntervalsAndReferences() throws {
        let full = curve(250, speed: 60)
        var figure = Figure(name: "loss", title: "Fine-tuning loss", xLabel: "step", yLabel: "loss", kind: .lines([
            .init("full fine-tuning", full, intervals: full.map { ($0.y * 0.9, $0.y * 1.15) }),
            .init("LoRA r=8", curve(250, speed: 90)),
            .init("LoRA r=64", curve(250, speed: 75), errors: Array(repeating: 0.05, count: 25)),
        ]))
        figure.references = [.init("majority-class baseline", y: 1.8), .init("base model", y: 2.5)]
        let r = try render(figure)
        expect(r.script, contains: [
            "set key below", "set autoscale xfix", "index 0 using 1:2:3:4 with yerrorlines linestyle 1",
            "index 1 using 1:2 with linespoints linestyle 2", "index 2 using 1:2:3:4 with yerrorlines",
            "2.5 with lines linestyle 102 title \"base model 2.5\"",
            "linecolor rgb \"#0072B2\"", "linecolor rgb \"#D55E00\"", "linecolor rgb \"#009E73\"",
        ])
        #expect(!r.script.contains("#F0E442"), "no yellow lines")
        #expect(r.numbers.count == 25 * 4 + 25 * 2 + 25 * 4)
        #expect(r.textPlot.contains("majority-class baseline 1.8") && r.textPlot.contains("base model 2.5"))
        #expect(r.textPlot.contains(":"), "intervals in the text plot")
        #expect(r.textPlot.contains(" 10 ") && r.textPlot.contains("250  step"), "the text x axis ends at the data")
    }

    @Test func aSingleSeriesHasNoLegendUnlessItHasReferences() throws {
        let losses = curve(250, speed: 50).map(\.y)
        var figure = Figure(name: "single", title: "Pretraining loss", xLabel: "step", yLabel: "loss",
                            kind: .lines([.init("pretraining loss", y: losses, xStart: 10, xStep: 10)]))
        figure.logY = true
        #expect(try render(figure).script.contains("unset key"))
        figure.references = [.init("uniform guess", y: 2)]
        #expect(try render(figure).script.contains("set key below"))
        figure.legend = .inside(.topRight)
        #expect(try render(figure).script.contains("set key inside top right"))
        figure.legend = .hidden
        let hidden = try render(figure)
        expect(hidden.script, contains: ["unset key", "set label \"uniform guess 2\" at graph 1", "2 with lines",
                                         "set style textbox opaque noborder", "textcolor rgb \"#555555\" front boxed"])
    }

    /// Tic labels turn only when two neighbours would touch, judged by the font's widths, not by
    /// counting characters: capital Ws are three times as wide as an i.
    @Test func barLabelsTurnOnlyWhenNeighboursWouldTouch() throws {
        func script(_ categories: [String]) throws -> String {
            try render(Figure(name: "tics", title: "Scores", yLabel: "score",
                              kind: .bars(categories: categories, [.init("score", categories.map { _ in 0.5 })])))
                .script
        }
        // lesson-targets' nine settings: "Wq,Wk,Wv,Wo" (about 115 pixels) beside "MLP only" (77), centres 93 apart
        let targets = ["Wq", "Wk", "Wv", "Wo", "Wq,Wk", "Wq,Wv", "Wq,Wk,Wv,Wo", "MLP only", "all linear"]
        #expect(try script(targets).contains("set xtics nomirror rotate by 30 right"))
        // lesson-full-finetune's five methods fit side by side: 21 characters, but narrow ones
        let methods = ["full fine-tuning", "freeze-tuning (top 1)", "head only", "from scratch", "frozen base"]
        #expect(try script(methods).contains("set xtics nomirror\n"))
    }

    @Test func logXEndsAtTheFirstAndLastPoint() throws {
        let ranks = [1.0, 2, 4, 8, 16, 64]
        var figure = Figure(name: "rank", title: "Score against rank", xLabel: "rank r", yLabel: "score", kind: .lines([
            .init("score", ranks.map { ($0, 0.5 + 0.05 * log2($0)) }, errors: Array(repeating: 0.02, count: 6)),
            .init("trainable parameters", ranks.map { ($0, 2048 * $0) }, onRightAxis: true),
        ]))
        figure.logX = true
        figure.y2Label = "trainable parameters"
        figure.logY2 = true
        let r = try render(figure)
        expect(r.script, contains: ["set logscale x 2", "set autoscale xfix", "axes x1y2", "set logscale y2",
                                    "set key below"])
    }

    @Test func barsWithZeroValuesIntervalsAndReferences() throws {
        var figure = Figure(name: "scores", title: "Test accuracy by method and task", yLabel: "accuracy", kind: .bars(
            categories: ["full fine-tuning", "LoRA", "frozen base"], [
                .init("qa", [0.812, 0.7, 0], intervals: [(0.790, 0.833), (0.65, 0.75), (0, 0)]),
                .init("sentiment", [0.9, 0.5, 0.1], errors: [0.05, 0.05, 0.1]),
            ]))
        figure.references = [.init("chance", y: 0.5)]
        let r = try render(figure)
        expect(r.script, contains: [
            "set key below", "set style histogram errorbars", "using 2:3:4:xtic(1) linestyle 1 title \"qa\"",
            "\"\" using (barx(0)):($4 > 0 ? $4 : 0):(sprintf(\"%.3f\", $2)) with labels",
            "\"\" using (barx(1)):($7 > 0 ? $7 : 0):(sprintf(\"%.3f\", $5)) with labels",
            "0.5 with lines linestyle 101 title \"chance 0.5\"", "set xrange [-0.5:2.5]", "set yrange [0:*]",
        ])
        #expect(r.numbers.count == 3 * 6)
        #expect(r.textPlot.contains("0.812 [0.790, 0.833]"))
        #expect(r.textPlot.contains("frozen base · qa") && r.textPlot.contains("│ 0.000 [0.000, 0.000]"))
        #expect(r.textPlot.contains("chance") && r.textPlot.contains("-----"))
    }

    @Test func barsFormatTheirValues() throws {
        var figure = Figure(name: "memory", title: "Training memory", yLabel: "MB", kind: .bars(
            categories: ["full", "LoRA", "last layer"], [
                .init("weights", [12.5, 12.6, 12.5]), .init("gradients", [12.5, 0.1, 0]),
                .init("optimizer", [25, 0.2, 0]), .init("activations", [140.2, 120, 60]),
            ]))
        let automatic = try render(figure)
        expect(automatic.script, contains: ["sprintf(\"%.0f\", $2)", "set style histogram clustered"])
        #expect(automatic.numbers.count == 3 * 4)
        figure.valueFormat = "%.1f"
        let r = try render(figure)
        #expect(r.script.contains("sprintf(\"%.1f\", $5)"))
        #expect(r.textPlot.contains("140.2") && r.textPlot.contains("│ 0.2\n"))
        // One group of bars needs no legend, unless a reference line must be named.
        var single = Figure(name: "one", title: "Accuracy",
                            kind: .bars(categories: ["a", "b"], [.init("accuracy", [0.5, 0])]))
        #expect(try render(single).script.contains("unset key"))
        single.references = [.init("majority class", y: 0.3)]
        #expect(try render(single).script.contains("set key below"))
    }

    @Test func heatmapWithChance() throws {
        let matrix: [[Double]] = (0..<8).map { i in
            (0..<16).map { j -> Double in i == j ? 0.9 : 0.05 + 0.01 * Double((i + j) % 5) }
        }
        let r = try render(Figure(name: "phi", title: "Subspace similarity", xLabel: "j", yLabel: "i",
                                  kind: .heatmap(matrix, chance: 1.0 / 16)))
        expect(r.script, contains: [
            "set palette defined (0.0 \"#440154\"", "1.0 \"#FDE725\")", "matrix using ($1+1):($2+1):3 with image",
            "set cbtics (\"0.2\" 0.2, \"0.4\" 0.4, \"0.6\" 0.6, \"0.8\" 0.8)",  // no 0: too close to the chance tic
            "set cbtics add (\"chance 0.0625\" 0.0625)", "set yrange [8.5:0.5]", "set xrange [0.5:16.5]",
            "set xtics 1 out",
        ])
        #expect(!r.script.contains("rgb 33,13,10"), "no rainbow")
        #expect(r.numbers.count == 8 * 16)
        #expect(r.textPlot.contains("chance 0.0625") && r.textPlot.contains("  1 ") && r.textPlot.contains("  8 "))
        let contour = try render(Figure(name: "phi-contour", title: "Subspace similarity",
                                        kind: .heatmap(matrix, chance: 0.1, contour: true)))
        expect(contour.script, contains: ["set cntrparam levels discrete 0.1", "nosurface", "set view map"])
        // Without a chance level the colour box keeps gnuplot's tics.
        let plain = try render(Figure(name: "plain", title: "A matrix", kind: .heatmap(matrix)))
        #expect(!plain.script.contains("cbtics"))
    }

    @Test func markdownTablesEscapePipesInHeadersAndCells() {
        let t = Table(["‖A‖", "|λ|"], rows: [["a|b", "1"]])
        #expect(t.markdown.hasPrefix("| ‖A‖ | \\|λ\\| |") && t.markdown.contains("| a\\|b | 1 |"))
    }

    @Test func heatmapWithNamedRowsColumnsAndValues() throws {
        var figure = Figure(name: "ranks", title: "Kept ranks", kind: .heatmap([[1, 2, 3], [4, 5, 6]]))
        figure.rowLabels = ["layer 0", "layer 1"]
        figure.columnLabels = ["q", "k", "v"]
        figure.cellValues = true
        figure.valueFormat = "%.1f"
        let r = try render(figure)
        expect(r.script, contains: [
            "set xtics (\"q\" 1, \"k\" 2, \"v\" 3) out", "set ytics (\"layer 0\" 1, \"layer 1\" 2) out",
            "(sprintf(\"%.1f\", $3)):($3 > 3.5 ? 0 : 0xFFFFFF) with labels textcolor rgb variable",
        ])
        #expect(r.textPlot.contains("layer 1 4.0 5.0 6.0") && r.textPlot.contains("columns: q, k, v"))
    }

    @Test func panelsShareTheirAxesAndOneLegend() throws {
        let kinds = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
        let random = Figure.Series("random", (1...32).map { (Double($0), 1 - 0.015 * Double($0 - 1)) })
        let panels = kinds.enumerated().map { k, kind in
            let spectrum = (1...32).map { (x: Double($0), y: exp(-Double($0 - 1) / Double(3 + k))) }
            return (title: kind, series: [Figure.Series("ΔW", spectrum), random])
        }
        var figure = Figure(name: "spectra", title: "Singular values of ΔW by matrix", xLabel: "index i",
                            yLabel: "σᵢ / σ₁", kind: .panels(panels))
        figure.references = [.init("half", y: 0.5)]
        let r = try render(figure)
        expect(r.script, contains: [
            "set multiplot layout 2,4", "set title \"q_proj\"", "set title \"down_proj\"", "unset multiplot",
            "set xrange [1:32]", "set yrange [0:1.04]", "set key at screen 0.5, 0.01 center bottom horizontal",
            "set ylabel \"σᵢ / σ₁\"", "set xlabel \"index i\"", "index 13 using 1:2",
            "NaN with lines linestyle 101 title \"half 0.5\"",
        ])
        #expect(r.script.components(separatedBy: "title \"random\"").count == 2, "one legend for all panels")
        #expect(r.numbers.count == 7 * 2 * 32 * 2)
        #expect(r.textPlot.contains("· k_proj") && r.textPlot.contains("5 more panels")
                && r.textPlot.contains("gate_proj") && r.textPlot.contains("half 0.5"))
    }

    @Test func panelsWithDifferentSeriesHaveALegendEach() throws {
        let panels: [(title: String, series: [Figure.Series])] = (1...8).map { k in
            (title: "layer \(k)", series: [
                .init("layer \(k) ΔW", y: (0..<20).map { exp(-Double($0) / Double(k)) }, xStart: 1),
                .init("random", y: (0..<20).map { 1 - 0.02 * Double($0) }, xStart: 1),
            ])
        }
        let r = try render(Figure(name: "layers", title: "Spectra by layer", xLabel: "i", yLabel: "σ",
                                  kind: .panels(panels)))
        expect(r.script, contains: ["set key inside top right", "set multiplot layout 2,4", "title \"layer 8 ΔW\""])
        #expect(!r.script.contains("set key at screen"))
        let four = Figure(name: "four", title: "Four panels", kind: .panels(Array(panels.prefix(4))))
        #expect(try render(four).script.contains("set multiplot layout 2,2"))
    }

    @Test func scatterOfScoreAgainstTrainableParameters() throws {
        var figure = Figure(name: "overview", title: "Score against trainable parameters",
                            xLabel: "trainable parameters", yLabel: "accuracy", kind: .scatter([
                                .init("full fine-tuning", x: 3_200_000, y: 0.85, yInterval: (0.82, 0.88)),
                                .init("LoRA r=8", x: 16_384, y: 0.83, xInterval: (16_000, 17_000),
                                      yInterval: (0.80, 0.86)),
                                .init("IA3", x: 800, y: 0.6),
                                .init("prompt tuning", x: 4096, y: 0.4, yInterval: (0.3, 0.5)),
                            ]))
        figure.logX = true
        figure.references = [.init("chance", y: 0.5)]
        let r = try render(figure)
        expect(r.script, contains: ["set logscale x 10", "using 2:3:4:5:6:7 with xyerrorbars",
                                    "using 2:3:1 with labels", "set key below", "title \"chance 0.5\""])
        #expect(r.numbers.count == 4 * 6)
        #expect(r.textPlot.contains("B LoRA r=8") && r.textPlot.contains("[0.800, 0.860]"))
        #expect(r.textPlot.contains("chance 0.5"))
    }

    @Test func symmetricErrorsBecomeIntervals() throws {
        let bars = Figure.Bars("accuracy", [0.5, 0.7], errors: [0.1, 0.2])
        let expected: [Figure.Interval] = [(0.4, 0.6), (0.5, 0.9)]
        #expect(zip(bars.intervals!, expected).allSatisfy { abs($0.low - $1.low) + abs($0.high - $1.high) < 1e-12 })
        #expect(Figure.Series("loss", [(1, 2), (2, 1)], errors: nil).intervals == nil)
    }
}
