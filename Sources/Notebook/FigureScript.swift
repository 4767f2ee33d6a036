// FigureScript.swift — the gnuplot script of a figure: comments at the top, one setting a line,
// so that a student can restyle it and run `gnuplot <name>.gp` again.

import Foundation

/// Okabe–Ito colours, a qualitative palette that colour-blind readers tell apart (without its
/// yellow, too faint for lines), with a point type and a dash type per series. The three lists
/// have different lengths (7, 8, 4), so that the eighth series still differs from the first.
let seriesColours = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]
let seriesPointTypes = [7, 5, 9, 11, 13, 6, 4, 8]
let seriesDashTypes = [1, 4, 5, 3]
/// Reference lines: grey, dashed (dash types that no series uses), styles numbered from 101.
let referenceColour = "#555555"
let referenceDashTypes = ["2", "(4, 6)", "(20, 8)", "(20, 6, 4, 6)"]

/// The viridis colour map (matplotlib's), by control points: dark blue to yellow, with a lightness
/// that grows evenly, so it reads in grey and by colour-blind readers.
let viridis = [(0.0, "#440154"), (0.125, "#472D7B"), (0.25, "#3B528B"), (0.375, "#2C728E"), (0.5, "#21918C"),
               (0.625, "#28AE80"), (0.75, "#5EC962"), (0.875, "#ADDC30"), (1.0, "#FDE725")]

extension Figure {
    /// The gnuplot script that draws `<name>.png` from `<name>.tsv`.
    var script: String {
        var s = ["# \(title)",
                 "# Draws \(name).png from the data in \(name).tsv:   gnuplot \(name).gp",
                 "# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line."]
        var size = "960,600"
        if case .panels(let panels) = kind {
            let (rows, columns) = Figure.layout(panels.count)
            size = "\(columns > 3 ? 1200 : 960),\(Figure.panelsHeight(rows: rows))"
        }
        s += ["set terminal pngcairo size \(size) font \"DejaVu Sans,12\"",
              "set termoption noenhanced",
              "set output \"\(name).png\""]
        switch kind {
        case .lines(let series): s += labels + linesScript(series)
        case .bars(let categories, let bars): s += labels + barsScript(categories, bars)
        case .heatmap(let matrix, let chance, let contour): s += labels + heatmapScript(matrix, chance, contour)
        case .panels(let panels): s += panelsScript(panels)
        case .scatter(let points): s += labels + scatterScript(points)
        }
        return s.joined(separator: "\n") + "\n"
    }

    // MARK: Pieces

    private var labels: [String] {
        ["set title \"\(esc(title))\"", "set xlabel \"\(esc(xLabel))\"", "set ylabel \"\(esc(yLabel))\""]
    }

    /// The `set key` line for `entries` legend entries.
    private func keySetting(entries: Int) -> String {
        switch legend {
        case .automatic: return entries > 1 ? "set key below" : "unset key"
        case .below: return "set key below"
        case .inside(.topLeft): return "set key inside top left"
        case .inside(.topRight): return "set key inside top right"
        case .inside(.bottomLeft): return "set key inside bottom left"
        case .inside(.bottomRight): return "set key inside bottom right"
        case .hidden: return "unset key"
        }
    }

    private var legendShown: Bool {
        if case .hidden = legend { return false }
        return true
    }

    /// About how wide `text` is drawn in the figures' DejaVu Sans, 12 points by default (16 pixels
    /// to the em, 4/3 of the size in points): the font's advance widths by kind of character
    /// (W, M, m, w about 0.93 em; other capitals 0.68; i j l f t r 0.35; space , . : ; ' | ! 0.32;
    /// brackets and hyphen 0.38; other letters and digits 0.62).
    func textPixels(_ text: String, points: Double = 12) -> Double {
        points * 4 / 3 * text.reduce(0.0) { width, c in
            width + ("WMmw".contains(c) ? 0.93
                : c.isUppercase ? 0.68
                : "ijlftr".contains(c) ? 0.35
                : " ,.:;'|!".contains(c) ? 0.32
                : "()[]-".contains(c) ? 0.38
                : 0.62)
        }
    }

    /// One `set style line` per series (and per reference line).
    private func lineStyles(_ count: Int, withPoints: Bool = true) -> [String] {
        var s = [withPoints ? "# Line styles: colour, point type and dash type per series; dashed grey for references"
                            : "# Bar colours, one per group; dashed grey for reference lines"]
        for i in 0..<count {
            let points = " pointtype \(seriesPointTypes[i % seriesPointTypes.count]) pointsize 1.2"
                + " dashtype \(seriesDashTypes[i % seriesDashTypes.count])"
            s.append("set style line \(i + 1) linecolor rgb \"\(seriesColours[i % seriesColours.count])\" linewidth 2"
                     + (withPoints ? points : ""))
        }
        for i in references.indices {
            s.append("set style line \(101 + i) linecolor rgb \"\(referenceColour)\" linewidth 1.5 "
                     + "dashtype \(referenceDashTypes[i % referenceDashTypes.count])")
        }
        return s
    }

    /// Reference lines as constant functions (they span the x range and count for the y range),
    /// in the legend; `at` draws them at another value (NaN: in the legend only).
    private func referencePlots(titled: Bool = true, at value: String? = nil) -> [String] {
        references.enumerated().map { i, r in
            "\(value ?? num(r.y)) with lines linestyle \(101 + i) "
                + (legendShown && titled ? "title \"\(esc(r.title))\"" : "notitle")
        }
    }

    /// Labels at the right end of the reference lines, when there is no legend to name them: in
    /// front of the bars and lines, on a white box, so that a bar under a label does not hide it.
    private var referenceLabels: [String] {
        guard !legendShown, !references.isEmpty else { return [] }
        return ["set style textbox opaque noborder  # reference labels on white, in front of the plot"]
            + references.map {
                "set label \"\(esc($0.title))\" at graph 1, first \(num($0.y)) right offset -0.5, 0.6 "
                    + "textcolor rgb \"\(referenceColour)\" front boxed"
            }
    }

    private var logXSetting: [String] {
        guard logX else { return [] }
        let xs: [Double]
        switch kind {
        case .lines(let series): xs = series.flatMap { $0.points.map(\.x) }
        case .panels(let panels): xs = panels.flatMap { $0.series.flatMap { $0.points.map(\.x) } }
        case .scatter(let points): xs = points.map(\.x)
        case .bars, .heatmap: xs = []
        }
        let powersOfTwo = !xs.isEmpty && xs.allSatisfy { $0 > 0 && log2($0) == log2($0).rounded() }
        if powersOfTwo && log2(xs.max()! / xs.min()!) <= 12 { return ["set logscale x 2"] }
        return ["set logscale x 10"] + ((xs.max() ?? 0) >= 10_000 ? ["set format x \"%.0s%c\"  # 1k, 10k, 1M"] : [])
    }

    private var axisSettings: [String] {
        var s = logXSetting
        if logY { s.append("set logscale y") }
        if let r = yRange { s.append("set yrange [\(num(r.lowerBound)):\(num(r.upperBound))]") }
        if let y2Label {
            s += ["set y2label \"\(esc(y2Label))\"", "set y2tics", "set ytics nomirror"]
            if logY2 { s.append("set logscale y2") }
        }
        return s
    }

    /// The plot clause of one series from block `index` of the data file.
    private func seriesPlot(_ series: Series, index: Int, style: Int, titled: Bool) -> String {
        let every = series.points.count > 25 ? " pointinterval \(series.points.count / 10)" : ""
        let using = series.intervals != nil ? "using 1:2:3:4 with yerrorlines linestyle \(style)"
                                            : "using 1:2 with linespoints linestyle \(style)\(every)"
        return "\"\(name).tsv\" index \(index) \(using)" + (series.onRightAxis ? " axes x1y2" : "")
            + (titled ? " title \"\(esc(series.name))\"" : " notitle")
    }

    private func plotCommand(_ clauses: [String]) -> String {
        "plot " + clauses.joined(separator: ", \\\n     ")
    }

    // MARK: Kinds

    private func linesScript(_ series: [Series]) -> [String] {
        var s = ["set grid", keySetting(entries: series.count + references.count),
                 "set autoscale xfix  # the x axis ends at the first and the last point"]
        s += axisSettings + lineStyles(series.count) + referenceLabels
        s.append(plotCommand(series.enumerated().map { seriesPlot($1, index: $0, style: $0 + 1, titled: true) }
                             + referencePlots()))
        return s
    }

    private func barsScript(_ categories: [String], _ bars: [Bars]) -> [String] {
        let withIntervals = bars.contains { $0.intervals != nil }
        let groups = bars.count, columns = withIntervals ? 3 : 1
        let values = bars.flatMap { b in b.values + (b.intervals ?? []).flatMap { [$0.low, $0.high] } }
            .filter(\.isFinite)
        let slotPixels = 860.0 / Double(max(1, categories.count * (groups + 1)))
        let labelPixels = bars.flatMap(\.values).map { textPixels(label($0), points: 10) }.max() ?? 0  // 10-point
        // Tic labels are rotated when two neighbours would touch: their half widths and a gap of 10
        // pixels exceed the space between category centres (840 pixels of plot over the categories).
        let spacing = 840 / Double(max(1, categories.count))
        let crowded = zip(categories, categories.dropFirst()).contains { a, b in
            (textPixels(a) + textPixels(b)) / 2 + 10 > spacing
        }
        var s = ["set grid ytics", keySetting(entries: groups + references.count),
                 "set style data histogram",
                 "set style histogram " + (withIntervals ? "errorbars gap 1 linewidth 1" : "clustered gap 1"),
                 "set style fill solid 0.85 border -1",
                 "set boxwidth 0.9",
                 "set xtics nomirror" + (crowded ? " rotate by 30 right" : ""),
                 "set xrange [-0.5:\(num(Double(categories.count) - 0.5))]"]
        if yRange == nil && !logY && values.allSatisfy({ $0 >= 0 }) { s.append("set yrange [0:*]") }
        s.append("set offsets 0, 0, graph 0.1, 0  # room above the bars for their value labels")
        s += axisSettings + lineStyles(groups, withPoints: false) + referenceLabels
        s += ["# Value labels: above the bar or its error bar; bar g (from 0) of a cluster sits at barx(g)",
              "groups = \(groups)",
              "gap = 1",
              "barx(g) = column(0) + (g - (groups - 1) / 2.0) / (groups + gap)"]
        let labelStyle = slotPixels < labelPixels + 4
            ? "with labels rotate by 90 left offset 0, 0.4 font \",10\" notitle"  // too narrow: upright labels
            : "with labels offset 0, 0.7 font \",10\" notitle"
        var clauses: [String] = []
        for (g, b) in bars.enumerated() {
            let column = 2 + columns * g
            let using = withIntervals ? "\(column):\(column + 1):\(column + 2)" : "\(column)"
            clauses.append((g == 0 ? "\"\(name).tsv\"" : "\"\"") + " using \(using)" + (g == 0 ? ":xtic(1)" : "")
                + " linestyle \(g + 1) title \"\(esc(b.name))\"")
        }
        for g in bars.indices {
            let column = 2 + columns * g, top = withIntervals ? column + 2 : column
            let text = "sprintf(\"\(esc(labelFormat))\", $\(column))"
            clauses.append("\"\" using (barx(\(g))):($\(top) > 0 ? $\(top) : 0):(\(text)) \(labelStyle)")
        }
        s.append(plotCommand(clauses + referencePlots()))
        return s
    }

    private func heatmapScript(_ matrix: [[Double]], _ chance: Double?, _ contour: Bool) -> [String] {
        let values = matrix.flatMap { $0 }.filter(\.isFinite) + (chance.map { [$0] } ?? [])
        let (low, high) = (values.min() ?? 0, max(values.max() ?? 1, (values.min() ?? 0) + 1e-12))
        let (rows, columns) = (matrix.count, matrix.map(\.count).max() ?? 0)
        var s = ["unset key",
                 "set xrange [0.5:\(num(Double(columns) + 0.5))]  # column j is the cell from j - 0.5 to j + 0.5",
                 "set yrange [\(num(Double(rows) + 0.5)):0.5]  # reversed: row 1 at the top, as a matrix is written",
                 "set xtics \(ticList(columnLabels) ?? (columns <= 32 ? "1 " : ""))out nomirror",
                 "set ytics \(ticList(rowLabels) ?? (rows <= 32 ? "1 " : ""))out nomirror",
                 "# viridis, a perceptual colour map: lightness grows evenly from dark blue to yellow",
                 "set palette defined (" + viridis.map { "\($0.0) \"\($0.1)\"" }.joined(separator: ", ") + ")",
                 "set cbrange [\(num(low)):\(num(high))]"]
        if let chance {
            // Tics at round values, leaving out those so close to the chance tic that the labels would collide.
            let tics = niceTics(low, high).filter { abs($0 - chance) > 0.08 * (high - low) }
            s.append("set cbtics (" + tics.map { "\"\(shortNumber($0))\" \(num($0))" }.joined(separator: ", ") + ")")
            s.append("set cbtics add (\"chance \(shortNumber(chance))\" \(num(chance)))")
            if !contour {
                s.append("set rmargin \(14 + shortNumber(chance).count)  # room for the chance label of the colour box")
            }
        }
        let using = "matrix using ($1+1):($2+1):3"
        // Each value in its cell, dark on the light half of the colour map and white on the dark half.
        let valueLabels = cellValues
            ? [", \\", "     \"\" matrix using ($1+1):($2+1):(sprintf(\"\(labelFormat)\", $3)):"
                + "($3 > \(num((low + high) / 2)) ? 0 : 0xFFFFFF) with labels textcolor rgb variable"] : []
        guard let chance, contour else {
            return s + ["plot \"\(name).tsv\" \(using) with image" + (valueLabels.first ?? "")]
                + valueLabels.dropFirst()
        }
        return s + ["set view map",
                    "set lmargin at screen 0.08", "set rmargin at screen 0.8",
                    "set bmargin at screen 0.12", "set tmargin at screen 0.9",
                    "# The contour: a white line where the matrix crosses the chance level",
                    "set contour base",
                    "set cntrparam levels discrete \(num(chance))",
                    "unset clabel",
                    "splot \"\(name).tsv\" \(using) with image, \\",
                    "      \"\" \(using) with lines nosurface linecolor rgb \"white\" linewidth 2"]
    }

    /// `("q_proj" 1, "k_proj" 2, …) ` for gnuplot's tics, nil without labels.
    private func ticList(_ labels: [String]?) -> String? {
        labels.map { "(" + $0.enumerated().map { "\"\(esc($1))\" \($0 + 1)" }.joined(separator: ", ") + ") " }
    }

    private func scatterScript(_ points: [Point]) -> [String] {
        let withX = points.contains { $0.xInterval != nil }, withY = points.contains { $0.yInterval != nil }
        var s = ["set grid", keySetting(entries: references.isEmpty ? 0 : references.count + 1)]
        let xs = points.flatMap { p in [p.x] + (p.xInterval.map { [$0.low, $0.high] } ?? []) }
            .filter { $0.isFinite && (!logX || $0 > 0) }
        if let x0 = xs.min(), let x1 = xs.max() {
            let (a, b) = logX ? (log10(x0), log10(x1)) : (x0, x1)
            let span = b > a ? b - a : (logX ? 1 : max(abs(a), 1))
            let (low, high) = (a - 0.06 * span, b + 0.3 * span)
            s.append("set xrange [\(num(logX ? pow(10, low) : low)):\(num(logX ? pow(10, high) : high))]"
                     + "  # room on the right for the labels")
        }
        s.append("set offsets 0, 0, graph 0.08, graph 0.08")
        s += axisSettings + lineStyles(1) + referenceLabels
        let using = withX && withY ? "using 2:3:4:5:6:7 with xyerrorbars"
            : withX ? "using 2:3:4:5 with xerrorbars"
            : withY ? "using 2:3:6:7 with yerrorbars" : "using 2:3 with points"
        s.append(plotCommand(["\"\(name).tsv\" \(using) linestyle 1 pointsize 1.5 notitle",
                              "\"\" using 2:3:1 with labels left offset 1, 0.6 font \",11\" notitle"]
                             + referencePlots()))
        return s
    }

    // MARK: Panels

    private func panelsScript(_ panels: [(title: String, series: [Series])]) -> [String] {
        let (rows, columns) = Figure.layout(panels.count)
        let points = panels.flatMap(\.series).flatMap { s in
            s.points + (s.intervals ?? []).enumerated().flatMap { i, iv in
                [(s.points[i].x, iv.low), (s.points[i].x, iv.high)]
            }
        }.filter { $0.x.isFinite && $0.y.isFinite }
        let xs = points.map(\.x), ys = points.map(\.y) + references.map(\.y)
        let widest = panels.max { $0.series.count < $1.series.count }?.series ?? []
        let shared = panels.allSatisfy { $0.series.map(\.name) == Array(widest.map(\.name).prefix($0.series.count)) }
        let entries = widest.count + references.count
        // One legend below all panels when they show the same series; otherwise a legend in each panel.
        let key: String?  // nil: the shared legend below
        switch legend {
        case .automatic where entries <= 1, .hidden: key = "unset key"
        case .automatic where !shared: key = "set key inside top right"
        case .automatic, .below: key = nil
        case .inside: key = keySetting(entries: entries)
        }
        let height = Double(Figure.panelsHeight(rows: rows))
        let (bottom, top) = ((key == nil ? 95 : 60) / height, 1 - 75 / height)
        var s = ["set grid"]
        if let x0 = xs.min(), let x1 = xs.max(), x1 > x0 {
            s.append("set xrange [\(num(x0)):\(num(x1))]  # shared by all panels, ending at the data")
        }
        s += logXSetting
        if logY { s.append("set logscale y") }
        if let r = yRange {
            s.append("set yrange [\(num(r.lowerBound)):\(num(r.upperBound))]")
        } else if let y0 = ys.min(), let y1 = ys.max() {
            var (a, b) = niceRange(y0, y1)
            if logY {
                (a, b) = (pow(10, floor(log10(max(y0, 1e-300)))), pow(10, ceil(log10(max(y1, 1e-300)))))
            } else {  // keep the points off the frame
                if b - y1 < 0.02 * (b - a) { b += 0.04 * (b - a) }
                if y0 - a < 0.02 * (b - a) && a != 0 { a -= 0.04 * (b - a) }
            }
            s.append("set yrange [\(num(a)):\(num(b))]  # shared by all panels")
        }
        s += lineStyles(widest.count) + referenceLabels + ["unset key"]
        let layout = String(format: "margins 0.07, 0.98, %.3f, %.3f spacing 0.05, %.3f", bottom, top, 80 / height)
        s.append("set multiplot layout \(rows),\(columns) title \"\(esc(title))\" \(layout)")
        var index = 0
        for (p, panel) in panels.enumerated() {
            let lowest = p + columns >= panels.count || p / columns == rows - 1  // nothing below: show the x label
            s += ["# Panel \(p + 1): \(panel.title)",
                  "set title \"\(esc(panel.title))\"",
                  p % columns == 0 ? "set ylabel \"\(esc(yLabel))\"" : "unset ylabel",
                  lowest ? "set xlabel \"\(esc(xLabel))\"" : "unset xlabel"]
            if p == 0, let key { s.append(key) }
            s.append(plotCommand(panel.series.enumerated().map {
                seriesPlot($1, index: index + $0, style: $0 + 1, titled: key != nil)
            } + referencePlots(titled: key != nil)))
            index += panel.series.count
        }
        if key == nil {
            s += ["# The shared legend: a plot of nothing over the panels that draws only its key",
                  "unset title", "unset xlabel", "unset ylabel", "unset border", "unset tics", "unset grid",
                  "set key at screen 0.5, 0.01 center bottom horizontal",
                  "set origin 0, 0", "set size 1, 1",
                  "set lmargin at screen 0.07", "set rmargin at screen 0.98",
                  String(format: "set bmargin at screen %.3f", bottom),
                  String(format: "set tmargin at screen %.3f", top)]
            s.append(plotCommand(widest.enumerated().map { i, series in
                "NaN with linespoints linestyle \(i + 1) title \"\(esc(series.name))\""
            } + referencePlots(at: "NaN")))
        }
        s.append("unset multiplot")
        return s
    }

    /// The height of a figure of panels in `rows` rows, in pixels.
    static func panelsHeight(rows: Int) -> Int { 130 + 280 * rows }

    /// Rows and columns for `count` panels: at most four columns.
    static func layout(_ count: Int) -> (rows: Int, columns: Int) {
        guard count > 0 else { return (1, 1) }
        let columns = count <= 3 ? count : count == 4 ? 2 : count <= 6 ? 3 : 4
        return ((count + columns - 1) / columns, columns)
    }
}

/// Round tic values covering `low ... high`, about five of them (1, 2 or 5 times a power of ten apart).
func niceTics(_ low: Double, _ high: Double) -> [Double] {
    let step = niceStep(high - low)
    let (first, last) = (Int((low / step - 1e-9).rounded(.up)), Int((high / step + 1e-9).rounded(.down)))
    return first <= last ? (first...last).map { Double($0) * step } : []
}

/// `low ... high` widened to round values.
func niceRange(_ low: Double, _ high: Double) -> (Double, Double) {
    guard high > low else { return (low - 1, high + 1) }
    let step = niceStep(high - low)
    return ((low / step).rounded(.down) * step, (high / step).rounded(.up) * step)
}

private func niceStep(_ span: Double) -> Double {
    guard span > 0 && span.isFinite else { return 1 }
    let raw = span / 5, power = pow(10, floor(log10(raw)))
    return [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= raw } ?? 10 * power
}
