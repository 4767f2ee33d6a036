// Figure.swift — figures through gnuplot: a PNG, its data (.tsv) and a readable script (.gp)
// side by side so a student can restyle it; and a small text plot for the terminal.
// The description and the data live here; the script is written in FigureScript.swift and the
// text plot in TextPlot.swift.

import Foundation
import SafeTensors

/// A figure: what to draw (``Kind``), its labels and its decorations (``Reference`` lines, the legend).
///
/// ``render(in:)`` writes `<name>.tsv` (the data), `<name>.gp` (a gnuplot script with one setting a line)
/// and, when gnuplot is installed, `<name>.png`; ``textPlot`` draws it with characters for the terminal.
///
/// ```swift
/// var figure = Figure(name: "scores", title: "Test accuracy", yLabel: "accuracy",
///                     kind: .bars(categories: ["full", "LoRA"], [.init("accuracy", [0.81, 0.79])]))
/// figure.references = [.init("chance", y: 0.5)]
/// figure.render(in: folder)
/// ```
public struct Figure {
    /// A low and a high end, for example of a bootstrap 95% confidence interval.
    public typealias Interval = (low: Double, high: Double)

    /// One line of a line chart or of a panel.
    public struct Series {
        public var name: String
        public var points: [(x: Double, y: Double)]
        /// A confidence interval per point, drawn as error bars from `low` to `high`.
        public var intervals: [Interval]?
        /// Plot against the right-hand axis (``Figure/y2Label``).
        public var onRightAxis: Bool

        /// A line through `points`, with an optional (possibly asymmetric) interval per point.
        ///
        /// ```swift
        /// Figure.Series("LoRA", [(1, 0.7), (2, 0.8)], intervals: [(0.65, 0.74), (0.77, 0.84)])
        /// ```
        public init(_ name: String, _ points: [(x: Double, y: Double)], intervals: [Interval]? = nil,
                    onRightAxis: Bool = false) {
            precondition(intervals.map { $0.count == points.count } ?? true, "\(name): one interval per point")
            self.name = name; self.points = points; self.intervals = intervals; self.onRightAxis = onRightAxis
        }

        /// A line with symmetric error bars: each point's interval is `y - error ... y + error`.
        ///
        /// ```swift
        /// Figure.Series("LoRA", [(1, 0.7), (2, 0.8)], errors: [0.02, 0.03])
        /// ```
        public init(_ name: String, _ points: [(x: Double, y: Double)], errors: [Double]?, onRightAxis: Bool = false) {
            self.init(name, points, intervals: errors.map { symmetric(points.map(\.y), $0) }, onRightAxis: onRightAxis)
        }

        /// A line through evenly spaced points: `y[i]` at `xStart + i * xStep`.
        ///
        /// ```swift
        /// Figure.Series("training loss", y: losses, xStart: 10, xStep: 10)
        /// ```
        public init(_ name: String, y: [Double], xStart: Double = 0, xStep: Double = 1, intervals: [Interval]? = nil) {
            let points = y.enumerated().map { (x: xStart + Double($0.offset) * xStep, y: $0.element) }
            self.init(name, points, intervals: intervals)
        }
    }

    /// One group of bars: a value (and an optional interval) per category.
    public struct Bars {
        public var name: String
        public var values: [Double]
        /// A confidence interval per value, drawn as an error bar from `low` to `high`.
        public var intervals: [Interval]?

        /// ```swift
        /// Figure.Bars("accuracy", [0.81, 0.0], intervals: [(0.79, 0.83), (0, 0)])
        /// ```
        public init(_ name: String, _ values: [Double], intervals: [Interval]? = nil) {
            precondition(intervals.map { $0.count == values.count } ?? true, "\(name): one interval per value")
            self.name = name; self.values = values; self.intervals = intervals
        }

        /// Bars with symmetric error bars (`value ± error`); `nil` draws none.
        ///
        /// ```swift
        /// Figure.Bars("accuracy", means, errors: seeds > 1 ? deviations : nil)
        /// ```
        public init(_ name: String, _ values: [Double], errors: [Double]?) {
            self.init(name, values, intervals: errors.map { symmetric(values, $0) })
        }
    }

    /// A dashed horizontal line across a line, bar, panel or scatter plot: the chance level,
    /// a majority-class baseline, the base model's score.
    public struct Reference {
        public var label: String
        public var y: Double

        /// ```swift
        /// Figure.Reference("chance", y: 0.25)
        /// ```
        public init(_ label: String, y: Double) { self.label = label; self.y = y }

        /// The label with the value, as the legend and the text plot show it: "chance 0.25".
        public var title: String { "\(label) \(shortNumber(y))" }
    }

    /// One labelled point of a scatter plot, for example a PEFT method's score against its
    /// trainable parameters.
    public struct Point {
        public var label: String
        public var x: Double, y: Double
        public var xInterval: Interval?, yInterval: Interval?

        /// ```swift
        /// Figure.Point("LoRA r=8", x: 16_384, y: 0.83, yInterval: (0.80, 0.86))
        /// ```
        public init(_ label: String, x: Double, y: Double, xInterval: Interval? = nil, yInterval: Interval? = nil) {
            self.label = label; self.x = x; self.y = y; self.xInterval = xInterval; self.yInterval = yInterval
        }
    }

    /// What the figure draws.
    public enum Kind {
        /// Lines against a shared x axis; the axis ends at the first and last point.
        case lines([Series])
        /// Clustered bars, one cluster per category and one bar per group, each labelled with its value.
        case bars(categories: [String], [Bars])
        /// A matrix drawn in the viridis colours, rows and columns numbered from 1 (row 1 at the top).
        /// `chance` marks that value on the colour box; `contour` also draws a white contour at it.
        case heatmap([[Double]], chance: Double? = nil, contour: Bool = false)
        /// Small multiples: one line chart per panel with shared axes and one legend.
        case panels([(title: String, series: [Series])])
        /// Labelled points with optional x and y intervals.
        case scatter([Point])
    }

    /// Where the legend goes. It is never outside to the right, where it would take a quarter of the width.
    public enum Legend {
        /// Below the plot when there is more than one entry (series and reference lines); none for a single series.
        case automatic
        /// Below the plot.
        case below
        /// Inside the plot, in a corner.
        case inside(Corner)
        /// No legend; reference lines are then labelled at their right end.
        case hidden
    }

    /// A corner of the plot.
    public enum Corner { case topLeft, topRight, bottomLeft, bottomRight }

    /// File stem: `<name>.png`, `<name>.tsv`, `<name>.gp`.
    public var name: String
    /// The title above the plot (above all panels for ``Kind/panels(_:)``).
    public var title: String
    public var kind: Kind
    /// Axis labels; panels share them (the y label on the left column, the x label on the lowest panels).
    public var xLabel: String, yLabel: String
    /// The right-hand axis, for series with `onRightAxis`.
    public var y2Label: String? = nil
    /// Logarithmic axes. A log x axis of powers of two (ranks) is labelled 1, 2, 4, …; others 1k, 10k, 1M.
    public var logX = false, logY = false, logY2 = false
    /// A fixed y range; `nil` lets gnuplot choose (from 0 for bars, shared by all panels).
    public var yRange: ClosedRange<Double>? = nil
    /// Dashed horizontal lines with a label (line, bar, panel and scatter plots).
    public var references: [Reference] = []
    /// Where the legend goes: by default below the plot, or none for a single series.
    public var legend: Legend = .automatic
    /// A printf format for the value labels of bars (and the numbers of text plots), for example "%.3f";
    /// `nil` picks the digits from the size of the values.
    public var valueFormat: String? = nil
    /// Heat maps: names for the rows (top to bottom) and the columns instead of the numbers 1, 2, …
    public var rowLabels: [String]? = nil, columnLabels: [String]? = nil
    /// Heat maps: each cell's value written in it (with ``valueFormat``), for small matrices.
    public var cellValues = false

    /// A figure with default decorations: no reference lines, the legend below when it is needed.
    public init(name: String, title: String, xLabel: String = "", yLabel: String = "", kind: Kind) {
        self.name = name; self.title = title; self.kind = kind; self.xLabel = xLabel; self.yLabel = yLabel
    }

    /// What ``render(in:)`` did.
    public enum Rendering {
        /// gnuplot drew the PNG at this address.
        case rendered(URL)
        /// gnuplot is not on the PATH: the data and this script are written, to be drawn later.
        case noGnuplot(script: URL)
        /// Writing the files or running gnuplot failed, with this message.
        case failed(String)
    }

    // MARK: Data

    /// The data file: tab-separated columns, a `#` comment line above each block naming it and its
    /// columns, reference lines as `# reference <tab> y <tab> label` comments; blocks (series) are
    /// separated by two empty lines, as gnuplot's `index` expects.
    var data: String {
        var lines = ["# \(title)"] + references.map { "# reference\t\(num($0.y))\t\($0.label)" }
        switch kind {
        case .lines(let series):
            lines += seriesBlocks(series.map { ($0.name, $0) })
        case .panels(let panels):
            lines += seriesBlocks(panels.flatMap { p in p.series.map { ("\(p.title): \($0.name)", $0) } })
        case .bars(let categories, let bars):
            let withIntervals = bars.contains { $0.intervals != nil }
            lines.append("# category\t" + bars.map {
                withIntervals ? "\($0.name)\t\($0.name) low\t\($0.name) high" : $0.name
            }.joined(separator: "\t"))
            for (i, category) in categories.enumerated() {
                lines.append("\"\(tsvQuoted(category))\"\t" + bars.map { b in
                    let v = b.values[i], interval: Interval = b.intervals?[i] ?? (v, v)
                    return withIntervals ? "\(num(v))\t\(num(interval.low))\t\(num(interval.high))" : num(v)
                }.joined(separator: "\t"))
            }
        case .heatmap(let matrix, let chance, _):
            if let chance { lines.append("# chance\t\(num(chance))") }
            lines.append("# a matrix: row i, column j (gnuplot numbers them from 0, the figure from 1)")
            lines += matrix.map { $0.map(num).joined(separator: "\t") }
        case .scatter(let points):
            lines.append("# label\tx\ty\tx low\tx high\ty low\ty high")
            for p in points {
                let xi: Interval = p.xInterval ?? (p.x, p.x), yi: Interval = p.yInterval ?? (p.y, p.y)
                lines.append("\"\(tsvQuoted(p.label))\"\t" + [p.x, p.y, xi.low, xi.high, yi.low, yi.high].map(num)
                    .joined(separator: "\t"))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private func seriesBlocks(_ named: [(String, Series)]) -> [String] {
        named.enumerated().map { index, item in
            let (name, s) = item
            let header = ["# \(name)  (index \(index))", s.intervals == nil ? "# x\ty" : "# x\ty\tlow\thigh"]
            let rows = s.points.enumerated().map { i, p in
                "\(num(p.x))\t\(num(p.y))" + (s.intervals.map { "\t\(num($0[i].low))\t\(num($0[i].high))" } ?? "")
            }
            return (header + rows).joined(separator: "\n") + "\n\n"
        }
    }

    // MARK: Rendering

    /// Writes the data and the script (each atomically), then runs gnuplot if it is installed.
    @discardableResult
    public func render(in folder: URL) -> Rendering {
        let scriptURL = folder.appendingPathComponent("\(name).gp")
        do {
            try writeAtomically(Data(data.utf8), to: folder.appendingPathComponent("\(name).tsv"))
            try writeAtomically(Data(script.utf8), to: scriptURL)
        } catch { return .failed("\(error)") }
        guard let gnuplot = Figure.gnuplotPath else { return .noGnuplot(script: scriptURL) }
        let process = Process()
        process.executableURL = gnuplot
        process.arguments = ["\(name).gp"]
        process.currentDirectoryURL = folder
        let errors = Pipe()
        process.standardError = errors
        do { try process.run() } catch { return .failed("\(error)") }
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if process.terminationStatus != 0 { return .failed(message.trimmingCharacters(in: .whitespacesAndNewlines)) }
        return .rendered(folder.appendingPathComponent("\(name).png"))
    }

    /// gnuplot on the PATH, if any.
    public static let gnuplotPath: URL? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(dir)).appendingPathComponent("gnuplot")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }()

    // MARK: Shared by the script and the text plot

    /// The format of value labels: ``valueFormat``, or digits that suit the largest value.
    var labelFormat: String {
        if let valueFormat { return valueFormat }
        let values: [Double]
        switch kind {
        case .bars(_, let bars): values = bars.flatMap(\.values)
        case .lines(let series): values = series.flatMap { $0.points.map(\.y) }
        case .panels(let panels): values = panels.flatMap { $0.series.flatMap { $0.points.map(\.y) } }
        case .heatmap(let matrix, _, _): values = matrix.flatMap { $0 }
        case .scatter(let points): values = points.map(\.y)
        }
        let largest = values.filter(\.isFinite).map(abs).max() ?? 0
        return largest >= 100 ? "%.0f" : largest >= 10 ? "%.1f" : largest >= 1 ? "%.2f" : "%.3f"
    }

    /// A value as the labels show it.
    func label(_ value: Double) -> String { value.isFinite ? String(format: labelFormat, value) : "—" }
}

/// Intervals `value - error ... value + error`.
private func symmetric(_ values: [Double], _ errors: [Double]) -> [Figure.Interval] {
    precondition(values.count == errors.count, "one error per value")
    return zip(values, errors).map { ($0 - $1, $0 + $1) }
}

/// A number for the data file: six significant digits, `NaN` for what is not finite.
func num(_ x: Double) -> String { x.isFinite ? String(format: "%.6g", x) : "NaN" }

/// A short number for labels: "0.0625", "2.31", "1.6e+04".
func shortNumber(_ x: Double) -> String { String(format: "%.3g", x) }

/// A string inside double quotes in a gnuplot script.
func esc(_ s: String) -> String {
    s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
}

/// A label inside double quotes in the data file (no tabs, quotes or line breaks).
private func tsvQuoted(_ s: String) -> String {
    s.map { "\t\n\"".contains($0) ? " " : String($0) }.joined()
}
