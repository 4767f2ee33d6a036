// Figure.swift — figures through gnuplot: a PNG, its data (.tsv) and a readable script (.gp)
// side by side so a student can restyle it; and a small text plot for the terminal.

import Foundation
import SafeTensors

public struct Figure {
    /// One line of a line chart.
    public struct Series {
        public var name: String
        public var points: [(x: Double, y: Double)]
        /// Error bars (± this much), one per point.
        public var errors: [Double]? = nil
        /// Plot against the right-hand axis (`y2Label`).
        public var onRightAxis = false
        public init(_ name: String, _ points: [(x: Double, y: Double)], errors: [Double]? = nil, onRightAxis: Bool = false) {
            self.name = name; self.points = points; self.errors = errors; self.onRightAxis = onRightAxis
        }
        public init(_ name: String, y: [Double], xStart: Double = 0, xStep: Double = 1) {
            self.init(name, y.enumerated().map { (xStart + Double($0.offset) * xStep, $0.element) })
        }
    }

    /// One group of bars: a value (and optional error bar) per category.
    public struct Bars {
        public var name: String
        public var values: [Double]
        public var errors: [Double]?
        public init(_ name: String, _ values: [Double], errors: [Double]? = nil) { self.name = name; self.values = values; self.errors = errors }
    }

    public enum Kind {
        case lines([Series])
        case bars(categories: [String], [Bars])
        /// A matrix drawn as colours; `rowLabel`/`columnLabel` name the axes, indices start at 1.
        case heatmap([[Double]])
    }

    /// File stem: `<name>.png`, `<name>.tsv`, `<name>.gp`.
    public var name: String
    public var title: String
    public var kind: Kind
    public var xLabel: String, yLabel: String
    /// The right-hand axis, for series with `onRightAxis`.
    public var y2Label: String? = nil
    public var logX = false, logY = false, logY2 = false
    public var yRange: ClosedRange<Double>? = nil

    public init(name: String, title: String, xLabel: String = "", yLabel: String = "", kind: Kind) {
        self.name = name; self.title = title; self.kind = kind; self.xLabel = xLabel; self.yLabel = yLabel
    }

    public enum Rendering { case rendered(URL), noGnuplot(script: URL), failed(String) }

    // MARK: gnuplot

    var data: String {
        switch kind {
        case .lines(let series):
            return series.map { s in
                "# \(s.name)\n" + s.points.enumerated().map { i, p in
                    "\(num(p.x))\t\(num(p.y))" + (s.errors.map { "\t\(num($0[i]))" } ?? "")
                }.joined(separator: "\n")
            }.joined(separator: "\n\n\n") + "\n"
        case .bars(let categories, let bars):
            let header = "# category\t" + bars.map { "\($0.name)\t\($0.name) error" }.joined(separator: "\t")
            let rows = categories.indices.map { i in
                "\"\(categories[i])\"\t" + bars.map { "\(num($0.values[i]))\t\(num($0.errors?[i] ?? 0))" }.joined(separator: "\t")
            }
            return ([header] + rows).joined(separator: "\n") + "\n"
        case .heatmap(let m):
            return m.map { $0.map(num).joined(separator: "\t") }.joined(separator: "\n") + "\n"
        }
    }

    var script: String {
        var s = """
        # \(title)
        # Draw with: gnuplot \(name).gp   (writes \(name).png from \(name).tsv)
        set terminal pngcairo size 960,560 font "DejaVu Sans,12"
        set termoption noenhanced
        set output "\(name).png"
        set title "\(esc(title))"
        set xlabel "\(esc(xLabel))"
        set ylabel "\(esc(yLabel))"
        set grid
        set key outside right top

        """
        if logX { s += "set logscale x 2\n" }
        if logY { s += "set logscale y\n" }
        if let r = yRange { s += "set yrange [\(num(r.lowerBound)):\(num(r.upperBound))]\n" }
        if let y2Label { s += "set y2label \"\(esc(y2Label))\"\nset y2tics\nset ytics nomirror\n" + (logY2 ? "set logscale y2\n" : "") }
        switch kind {
        case .lines(let series):
            s += "plot " + series.enumerated().map { i, sr in
                let style = sr.errors != nil ? "using 1:2:3 with yerrorlines" : "using 1:2 with \(sr.points.count > 40 ? "lines" : "linespoints")"
                return "\"\(name).tsv\" index \(i) \(style) lw 2\(sr.onRightAxis ? " axes x1y2" : "") title \"\(esc(sr.name))\""
            }.joined(separator: ", \\\n     ") + "\n"
        case .bars(_, let bars):
            let hasErrors = bars.contains { $0.errors != nil }
            s += "set style data histogram\n"
            s += hasErrors ? "set style histogram errorbars gap 1 lw 1\n" : "set style histogram clustered gap 1\n"
            s += "set style fill solid 0.8 border -1\nset boxwidth 0.9\nset xtics rotate by -30\n"
            if yRange == nil { s += "set yrange [0:*]\n" }
            s += "plot " + bars.enumerated().map { i, b in
                let value = 2 + 2 * i
                return "\"\(name).tsv\" using \(value)\(hasErrors ? ":\(value + 1)" : ""):xtic(1) title \"\(esc(b.name))\""
            }.joined(separator: ", \\\n     ") + "\n"
        case .heatmap:
            s += "set palette rgb 33,13,10\nset view map\nunset grid\nset autoscale fix\n"
            s += "plot \"\(name).tsv\" matrix using ($1+1):($2+1):3 with image notitle\n"
        }
        return s
    }

    /// Writes the data and the script, then runs gnuplot if it is installed.
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

    // MARK: Text plot

    /// A small plot drawn with characters.
    public var textPlot: String {
        switch kind {
        case .lines(let series): return textLines(series.filter { !$0.onRightAxis })  // one scale in text
        case .bars(let categories, let bars): return textBars(categories, bars)
        case .heatmap(let m): return textHeatmap(m)
        }
    }

    private func textLines(_ series: [Series]) -> String {
        let (w, h) = (60, 12)
        let marks: [Character] = ["*", "o", "+", "x", "#", "@", "%", "&"]
        let all = series.flatMap(\.points).filter { $0.y.isFinite }
        guard let x0 = all.map(\.x).min(), let x1 = all.map(\.x).max(), let yMin = all.map(\.y).min(), let yMax = all.map(\.y).max() else { return "  (no data)" }
        func tx(_ x: Double) -> Double { logX ? log2(max(x, 1e-12)) : x }
        let (ax, bx) = (tx(x0), tx(x1))
        var grid = [[Character]](repeating: [Character](repeating: " ", count: w), count: h)
        for (k, s) in series.enumerated() {
            for p in s.points where p.y.isFinite {
                let c = bx > ax ? Int((tx(p.x) - ax) / (bx - ax) * Double(w - 1)) : 0
                let r = yMax > yMin ? Int((yMax - p.y) / (yMax - yMin) * Double(h - 1)) : h / 2
                grid[r][c] = marks[k % marks.count]
            }
        }
        var out = ["  \(title)"]
        for (r, row) in grid.enumerated() {
            let label = r == 0 ? String(format: "%9.3g", yMax) : r == h - 1 ? String(format: "%9.3g", yMin) : String(repeating: " ", count: 9)
            out.append("  \(label) │" + String(row))
        }
        out.append("  " + String(repeating: " ", count: 9) + " └" + String(repeating: "─", count: w))
        out.append("  " + String(repeating: " ", count: 11) + String(format: "%-10.4g", x0) + String(repeating: " ", count: max(0, w - 20)) + String(format: "%10.4g", x1) + "  \(xLabel)")
        out.append("  " + series.enumerated().map { "\(marks[$0.offset % marks.count]) \($0.element.name)" }.joined(separator: "   "))
        return out.joined(separator: "\n")
    }

    private func textBars(_ categories: [String], _ bars: [Bars]) -> String {
        let maxValue = max(bars.flatMap(\.values).filter(\.isFinite).max() ?? 1, 1e-12)
        func label(_ c: String, _ b: Bars) -> String { bars.count == 1 ? c : "\(c) · \(b.name)" }
        let labelWidth = categories.flatMap { c in bars.map { label(c, $0).count } }.max() ?? 0
        var out = ["  \(title)"]
        for (i, c) in categories.enumerated() {
            for b in bars {
                let v = b.values[i]
                let n = v.isFinite ? Int((max(v, 0) / maxValue * 40).rounded()) : 0
                let label = label(c, b)
                let error = b.errors.map { String(format: " ± %.3g", $0[i]) } ?? ""
                out.append("  " + label.padding(toLength: max(labelWidth, label.count), withPad: " ", startingAt: 0) + " │" + String(repeating: "█", count: n) + String(format: " %.4g", v) + error)
            }
        }
        return out.joined(separator: "\n")
    }

    private func textHeatmap(_ m: [[Double]]) -> String {
        let shades = Array(" .:-=+*#%@")
        let values = m.flatMap { $0 }.filter(\.isFinite)
        let (lo, hi) = (values.min() ?? 0, values.max() ?? 1)
        var out = ["  \(title)  (\(String(format: "%.3g", lo)) ' ' … '@' \(String(format: "%.3g", hi)))"]
        for row in m {
            out.append("  " + String(row.map { v -> Character in
                let t = hi > lo ? (v - lo) / (hi - lo) : 0
                return shades[min(shades.count - 1, max(0, Int(t * Double(shades.count - 1) + 0.5)))]
            }.flatMap { [$0, $0] }))
        }
        return out.joined(separator: "\n")
    }
}

private func num(_ x: Double) -> String { x.isFinite ? String(format: "%.6g", x) : "NaN" }
private func esc(_ s: String) -> String { s.replacingOccurrences(of: "\"", with: "\\\"") }
