// ModelFolderTokenizer.swift — a model folder's tokenizer: tokenizer.json, with the special ids its
// config.json (`bos_token_id`, `eos_token_id`, `pad_token_id`), generation_config.json (its end
// tokens, possibly several) and tokenizer_config.json (`eos_token` …) name.

import Foundation
import SafeTensors

extension Tokenizer {
    /// Reads a model folder's tokenizer.json and takes the special ids from its config.json,
    /// generation_config.json and tokenizer_config.json where they name them (in that order of
    /// preference), else from the tokenizer's special tokens' usual names. Every id must be a token.
    public static func load(modelFolder folder: URL) throws -> Tokenizer {
        let file = folder.appendingPathComponent("tokenizer.json")
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw FileFormatError(file: folder.path, problem: "has no tokenizer.json; copy the tokenizer.json saved "
                + "with this model into the folder (a folder with only SentencePiece's tokenizer.model can get one "
                + "from Python: AutoTokenizer.from_pretrained(folder).save_pretrained(folder))")
        }
        let tokenizer = try load(contentsOf: file)
        let config = try readJSON(folder.appendingPathComponent("config.json"))
        let generation = try readJSON(folder.appendingPathComponent("generation_config.json"))
        let tokenizerConfig = try readJSON(folder.appendingPathComponent("tokenizer_config.json"))
        var special = tokenizer.specialTokens

        /// Ids of `key` in a config (an integer or a list of integers), checked to be tokens.
        func ids(_ key: String, in json: (value: JSONValue, file: String)?) throws -> [Int]? {
            guard let json, let field = json.value[key], !field.isNull else { return nil }
            let list = field.array ?? [field]
            var out: [Int] = []
            for item in list {
                guard let id = item.integer, tokenizer.hasToken(id) else {
                    throw FileFormatError(file: json.file, problem: "\(key) is \(item.brief), which is not a token of "
                        + "tokenizer.json (ids 0..<\(tokenizer.vocabularySize)); correct it or use the tokenizer saved "
                        + "with this model")
                }
                out.append(id)
            }
            return out.isEmpty ? nil : out
        }
        /// The id of tokenizer_config.json's `key` ("eos_token": "</s>" or {"content": "</s>"}).
        func named(_ key: String) throws -> Int? {
            guard let json = tokenizerConfig, let field = json.value[key], !field.isNull else { return nil }
            guard let name = field.string ?? field["content"]?.string else { return nil }
            guard let id = tokenizer.id(ofToken: name) else {
                throw FileFormatError(file: json.file, problem: "\(key) \"\(name)\" is not a token of tokenizer.json")
            }
            return id
        }
        let configEnd = try ids("eos_token_id", in: config), generationEnd = try ids("eos_token_id", in: generation)
        let namedEnd = try named("eos_token").map { [$0] }
        if let end = configEnd ?? generationEnd ?? namedEnd {
            special.eos = end[0]
            var all: [Int] = []
            for id in end + (generationEnd ?? []) where !all.contains(id) { all.append(id) }
            special.endTokens = all
        }
        if let bos = try ids("bos_token_id", in: config) ?? ids("bos_token_id", in: generation) {
            special.bos = bos[0]
        } else if let bos = try named("bos_token") {
            special.bos = bos
        }
        if let pad = try ids("pad_token_id", in: config) ?? ids("pad_token_id", in: generation) {
            special.pad = pad[0]
        } else if let pad = try named("pad_token") {
            special.pad = pad
        }
        tokenizer.specialTokens = special
        return tokenizer
    }

    /// A JSON file of the model folder, or nil when there is none.
    private static func readJSON(_ url: URL) throws -> (value: JSONValue, file: String)? {
        guard let data = try? Data(contentsOf: url) else { return nil }
        do { return (try JSONValue.parse([UInt8](data)), url.path) } catch {
            throw FileFormatError(file: url.path, problem: "not valid JSON (\(error)); fix it or save the model again")
        }
    }
}
