// Table.swift — aligned tables for the terminal and Markdown.

public struct Table {
    public var headers: [String]
    public var rows: [[String]]
    /// Columns whose cells are right-aligned (numbers); the first column is left-aligned.
    public var rightAligned: Set<Int>

    public init(_ headers: [String], rows: [[String]] = [], rightAligned: Set<Int>? = nil) {
        self.headers = headers
        self.rows = rows
        self.rightAligned = rightAligned ?? Set(1..<max(1, headers.count))
    }

    public mutating func add(_ row: [String]) { rows.append(row) }

    var widths: [Int] {
        headers.indices.map { c in ([headers[c]] + rows.map { c < $0.count ? $0[c] : "" }).map(\.count).max() ?? 0 }
    }

    func cell(_ text: String, _ c: Int, _ w: Int) -> String {
        let pad = String(repeating: " ", count: max(0, w - text.count))
        return rightAligned.contains(c) ? pad + text : text + pad
    }

    /// Columns separated by two spaces, a rule under the header.
    public var terminal: String {
        let w = widths
        var lines = ["  " + headers.indices.map { cell(headers[$0], $0, w[$0]) }.joined(separator: "  ")]
        lines.append("  " + w.map { String(repeating: "─", count: $0) }.joined(separator: "  "))
        for row in rows {
            lines.append("  " + headers.indices.map { cell($0 < row.count ? row[$0] : "", $0, w[$0]) }
                .joined(separator: "  "))
        }
        return lines.joined(separator: "\n")
    }

    /// A GitHub-flavoured Markdown table.
    public var markdown: String {
        let escaped = headers.map { $0.replacingOccurrences(of: "|", with: "\\|") }
        var lines = ["| " + escaped.joined(separator: " | ") + " |"]
        lines.append("|" + headers.indices.map { rightAligned.contains($0) ? " ---: |" : " --- |" }.joined())
        for row in rows {
            lines.append("| " + headers.indices.map {
                $0 < row.count ? row[$0].replacingOccurrences(of: "|", with: "\\|") : ""
            }.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }
}
