// TextPlot.swift — a figure drawn with characters for the terminal: every kind, with its
// reference lines (rows of `-` with their label) and its intervals.

import Foundation

extension Figure {
    /// A small plot drawn with characters.
    public var textPlot: String {
        switch kind {
        case .lines(let series):
            let left = series.filter { !$0.onRightAxis }  // one scale in text
            let frame = Frame(figure: self, series: left)
            let rows = plotLines(left, in: frame, height: 12)
            return (["  \(title)"] + rows + [legendLine(left)]).joined(separator: "\n")
        case .bars(let categories, let bars):
            return textBars(categories, bars)
        case .heatmap(let matrix, let chance, _):
            return textHeatmap(matrix, chance: chance)
        case .panels(let panels):
            let frame = Frame(figure: self, series: panels.flatMap(\.series))
            var out = ["  \(title)"]
            // The terminal shows the first two panels; the PNG has them all.
            for panel in panels.prefix(2) {
                out += ["  · \(panel.title)"] + plotLines(panel.series, in: frame, height: 7)
            }
            if panels.count > 2 {
                out.append("  · … \(panels.count - 2) more panels "
                    + "(\(panels.dropFirst(2).map(\.title).joined(separator: ", "))) in \(name).png")
            }
            let widest = panels.max { $0.series.count < $1.series.count }?.series ?? []
            return (out + [legendLine(widest)]).joined(separator: "\n")
        case .scatter(let points):
            return textScatter(points)
        }
    }

    /// The legend of a text plot: each series' mark and name, then the reference lines.
    private func legendLine(_ series: [Series]) -> String {
        "  " + (series.enumerated().map { "\(marks[$0.offset % marks.count]) \($0.element.name)" }
                + references.map { "-- \($0.title)" }).joined(separator: "   ")
    }

    /// The rows of a line chart in `frame`: reference lines, then intervals (`:`), then the points.
    private func plotLines(_ series: [Series], in frame: Frame, height: Int) -> [String] {
        guard frame.isValid else { return ["  (no data)"] }
        var canvas = Canvas(frame: frame, width: 60, height: height)
        for r in references { canvas.horizontal(at: r.y, label: r.title) }
        for s in series {
            for (i, interval) in (s.intervals ?? []).enumerated() {
                canvas.vertical(at: s.points[i].x, from: interval.low, to: interval.high)
            }
        }
        for (k, s) in series.enumerated() {
            for p in s.points { canvas.put(marks[k % marks.count], x: p.x, y: p.y) }
        }
        return canvas.lines(xLabel: xLabel)
    }

    private func textBars(_ categories: [String], _ bars: [Bars]) -> String {
        let tops = bars.flatMap { b in b.values + (b.intervals ?? []).map(\.high) } + references.map(\.y)
        let scale = max(tops.filter(\.isFinite).max() ?? 1, 1e-12)
        func label(_ c: String, _ b: Bars) -> String { bars.count == 1 ? c : "\(c) · \(b.name)" }
        let names = categories.flatMap { c in bars.map { label(c, $0) } } + references.map(\.label)
        let width = names.map(\.count).max() ?? 0
        func row(_ name: String, _ value: Double, _ mark: Character) -> String {
            let n = value.isFinite ? Int((max(value, 0) / scale * 40).rounded()) : 0
            return "  " + name.padding(toLength: width, withPad: " ", startingAt: 0) + " │"
                + String(repeating: mark, count: n) + " " + self.label(value)
        }
        var out = ["  \(title)"]
        for (i, c) in categories.enumerated() {
            for b in bars {
                let interval = b.intervals.map { " [\(self.label($0[i].low)), \(self.label($0[i].high))]" } ?? ""
                out.append(row(label(c, b), b.values[i], "█") + interval)
            }
        }
        for r in references { out.append(row(r.label, r.y, "-") + "  (reference)") }
        return out.joined(separator: "\n")
    }

    private func textHeatmap(_ matrix: [[Double]], chance: Double?) -> String {
        let shades = Array(" .:-=+*#%@")
        let values = matrix.flatMap { $0 }.filter(\.isFinite)
        let (low, high) = (values.min() ?? 0, values.max() ?? 1)
        func shade(_ v: Double) -> Character {
            let t = high > low ? (v - low) / (high - low) : 0
            return shades[min(shades.count - 1, max(0, Int(t * Double(shades.count - 1) + 0.5)))]
        }
        let chanceNote = chance.map { "; chance \(shortNumber($0)) is '\(shade($0))'" } ?? ""
        var out = ["  \(title)  (\(shortNumber(low)) ' ' … '@' \(shortNumber(high))\(chanceNote); row 1 at the top)"]
        let names = rowLabels ?? matrix.indices.map { "\($0 + 1)" }
        let width = max(3, names.map(\.count).max() ?? 0)
        for (i, row) in matrix.enumerated() {
            let name = i < names.count ? names[i] : "\(i + 1)"
            out.append("  " + String(repeating: " ", count: width - name.count) + name + " "
                       + (cellValues ? row.map { label($0) }.joined(separator: " ")
                                     : String(row.map(shade).flatMap { [$0, $0] })))
        }
        if let columnLabels { out.append("  columns: " + columnLabels.joined(separator: ", ")) }
        return out.joined(separator: "\n")
    }

    private func textScatter(_ points: [Point]) -> String {
        let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        let frame = Frame(figure: self, points: points.map { ($0.x, $0.y) }
                          + points.flatMap { p in (p.yInterval.map { [(p.x, $0.low), (p.x, $0.high)] } ?? []) })
        var out = ["  \(title)"]
        if frame.isValid {
            var canvas = Canvas(frame: frame, width: 60, height: 12)
            for r in references { canvas.horizontal(at: r.y, label: r.title) }
            for p in points { if let iv = p.yInterval { canvas.vertical(at: p.x, from: iv.low, to: iv.high) } }
            for (i, p) in points.enumerated() { canvas.put(letters[i % letters.count], x: p.x, y: p.y) }
            out += canvas.lines(xLabel: xLabel)
        }
        for (i, p) in points.enumerated() {
            let x = shortNumber(p.x) + (p.xInterval.map { " [\(shortNumber($0.low)), \(shortNumber($0.high))]" } ?? "")
            let y = label(p.y) + (p.yInterval.map { " [\(label($0.low)), \(label($0.high))]" } ?? "")
            out.append("  \(letters[i % letters.count]) \(p.label): x \(x), y \(y)")
        }
        if !references.isEmpty { out.append("  " + references.map { "-- \($0.title)" }.joined(separator: "   ")) }
        return out.joined(separator: "\n")
    }
}

private let marks: [Character] = ["*", "o", "+", "x", "#", "@", "%", "&"]

/// The extent of a text plot in plotted coordinates (logarithms on log axes).
private struct Frame {
    let logX: Bool, logY: Bool
    var x0 = Double.infinity, x1 = -Double.infinity, y0 = Double.infinity, y1 = -Double.infinity
    /// The untransformed x extent, for the axis labels.
    var xMin = 0.0, xMax = 0.0

    init(figure: Figure, points: [(x: Double, y: Double)]) {
        logX = figure.logX; logY = figure.logY
        for p in points where p.x.isFinite && p.y.isFinite && (!logX || p.x > 0) && (!logY || p.y > 0) {
            if tx(p.x) < x0 { x0 = tx(p.x); xMin = p.x }
            if tx(p.x) > x1 { x1 = tx(p.x); xMax = p.x }
            y0 = min(y0, ty(p.y)); y1 = max(y1, ty(p.y))
        }
        for r in figure.references where r.y.isFinite && (!logY || r.y > 0) {
            y0 = min(y0, ty(r.y)); y1 = max(y1, ty(r.y))
        }
    }

    init(figure: Figure, series: [Figure.Series]) {
        self.init(figure: figure, points: series.flatMap { s in
            s.points + (s.intervals ?? []).enumerated().flatMap { i, iv in
                [(s.points[i].x, iv.low), (s.points[i].x, iv.high)]
            }
        })
    }

    var isValid: Bool { x0 <= x1 && y0 <= y1 }
    func tx(_ x: Double) -> Double { logX ? log10(x) : x }
    func ty(_ y: Double) -> Double { logY ? log10(y) : y }
}

/// A grid of characters with a y axis on the left and an x axis below.
private struct Canvas {
    let frame: Frame, width: Int, height: Int
    var grid: [[Character]]
    /// Labels written to the right of a row (reference lines).
    var rowNotes: [Int: String] = [:]

    init(frame: Frame, width: Int, height: Int) {
        self.frame = frame; self.width = width; self.height = height
        grid = Array(repeating: Array(repeating: " ", count: width), count: height)
    }

    func column(_ x: Double) -> Int? {
        guard x.isFinite, !frame.logX || x > 0 else { return nil }
        let t = frame.tx(x)
        guard frame.x1 > frame.x0 else { return 0 }
        return Int(((t - frame.x0) / (frame.x1 - frame.x0) * Double(width - 1)).rounded())
    }

    func row(_ y: Double) -> Int? {
        guard y.isFinite, !frame.logY || y > 0 else { return nil }
        let t = frame.ty(y)
        guard frame.y1 > frame.y0 else { return height / 2 }
        return Int(((frame.y1 - t) / (frame.y1 - frame.y0) * Double(height - 1)).rounded())
    }

    mutating func put(_ mark: Character, x: Double, y: Double) {
        guard let c = column(x), let r = row(y), grid.indices.contains(r), grid[r].indices.contains(c) else { return }
        grid[r][c] = mark
    }

    mutating func horizontal(at y: Double, label: String) {
        guard let r = row(y), grid.indices.contains(r) else { return }
        grid[r] = grid[r].map { $0 == " " ? "-" : $0 }
        rowNotes[r] = (rowNotes[r].map { $0 + ", " } ?? "") + label
    }

    mutating func vertical(at x: Double, from low: Double, to high: Double) {
        guard let c = column(x), let a = row(high), let b = row(low), c >= 0, c < width else { return }
        for r in max(0, min(a, b))...min(height - 1, max(a, b)) where grid[r][c] == " " || grid[r][c] == "-" {
            grid[r][c] = ":"
        }
    }

    func lines(xLabel: String) -> [String] {
        func value(_ t: Double) -> Double { frame.logY ? pow(10, t) : t }
        var out: [String] = []
        for (r, cells) in grid.enumerated() {
            let label = r == 0 ? String(format: "%9.3g", value(frame.y1))
                : r == height - 1 ? String(format: "%9.3g", value(frame.y0)) : String(repeating: " ", count: 9)
            out.append("  \(label) │" + String(cells) + (rowNotes[r].map { " \($0)" } ?? ""))
        }
        out.append("  " + String(repeating: " ", count: 9) + " └" + String(repeating: "─", count: width))
        out.append("  " + String(repeating: " ", count: 11) + String(format: "%-10.4g", frame.xMin)
                   + String(repeating: " ", count: max(0, width - 20)) + String(format: "%10.4g", frame.xMax)
                   + "  \(xLabel)")
        return out
    }
}
