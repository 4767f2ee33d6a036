// `--base DIR`: a Hugging Face LLaMA-architecture folder with its own tokenizer.json is a lesson's base as
// it is. Its end tokens come from config.json and generation_config.json (a list in LLaMA 3's case), its
// held-out loss is measured on the world's held-out text; a folder that cannot work is an error naming the
// problem and the fix.

import Corpus
import Foundation
import Llama
import Notebook
import Testing
import TestSupport

@Suite struct UserBaseTests {
    /// The error `body` throws, as text ("" when it throws none).
    func message(_ body: () throws -> Void) -> String {
        do { try body(); return "" } catch { return "\(error)" }
    }

    @Test func llama3StyleFolderIsABase() throws {
        // LLaMA 3's ids: <|begin_of_text|> 0, <|end_of_text|> 1, <|eot_id|> 4.
        let folder = try UserModelFolder.make(tokenizer: "llama3", bosTokenId: 0, eosTokenId: 1,
                                              generation: ["bos_token_id": 0, "eos_token_id": [1, 4]])
        let base = try BaseModel.load(folder: folder, log: { _ in })
        #expect(base.isUserModel && base.preset == nil && base.name == folder.lastPathComponent)
        #expect(base.pretrainingLosses.isEmpty)
        let tokenizer = base.tokenizer
        #expect(tokenizer.eosId == 1 && tokenizer.bosId == 0 && tokenizer.stopIds == [1, 4])
        #expect(tokenizer.specialPrefix == [0])
        // Held-out windows read documents as the model would: each begins with <|begin_of_text|> and ends
        // with <|end_of_text|>.
        let stream = base.heldOut.flatMap { $0 }
        #expect(stream.first == 0 && stream.contains(1))
        #expect(stream.allSatisfy { $0 >= 0 && $0 < base.model.config.vocabSize })
        // A randomly initialised model predicts about uniformly: its loss is near ln(vocabulary).
        let uniform = Float(log(Double(base.model.config.vocabSize)))
        #expect(abs(base.heldOutLoss - uniform) < 0.5, "\(base.heldOutLoss) against ln V = \(uniform)")
    }

    @Test func llama2StyleFolderTakesItsEndTokenFromTheTokenizer() throws {
        // No eos_token_id anywhere: the special "</s>" (id 2) is the end token, "<s>" (id 1) the prefix.
        let folder = try UserModelFolder.make(tokenizer: "llama2")
        let base = try BaseModel.load(folder: folder, log: { _ in })
        #expect(base.tokenizer.eosId == 2 && base.tokenizer.specialPrefix == [1])
        #expect(base.heldOut.allSatisfy { $0.count == 64 })
    }

    @Test func aFolderWithoutTokenizerIsAClearError() throws {
        let folder = try UserModelFolder.make(tokenizer: nil, vocabSize: 400)
        let text = message { _ = try BaseModel.load(folder: folder, log: { _ in }) }
        #expect(text.contains(folder.path) && text.contains("has no tokenizer.json"), "\(text)")
        #expect(text.contains("copy the tokenizer.json saved with this model"), "\(text)")
    }

    @Test func aTokenizerLargerThanTheVocabularyIsAClearError() throws {
        // The LLaMA 2 fixture has ids up to 561; the model embeds 300.
        let folder = try UserModelFolder.make(tokenizer: "llama2", vocabSize: 300)
        let text = message { _ = try BaseModel.load(folder: folder, log: { _ in }) }
        #expect(text.contains("tokenizer.json has ids up to 561") && text.contains("vocab_size is 300"), "\(text)")
        #expect(text.contains("use the tokenizer saved with this model"), "\(text)")
    }

    @Test func aLargerVocabularyThanTheTokenizerIsFine() throws {
        // Models often pad the embedding past the tokenizer's ids (to a multiple of 64, say).
        let folder = try UserModelFolder.make(tokenizer: "llama2", vocabSize: 640)
        #expect(try BaseModel.load(folder: folder, log: { _ in }).model.config.vocabSize == 640)
    }

    @Test func anUnsupportedTokenizerIsRefusedNamingThePart() throws {
        let folder = try UserModelFolder.make(tokenizer: "refused/unigram", vocabSize: 400)
        let text = message { _ = try BaseModel.load(folder: folder, log: { _ in }) }
        #expect(text.contains("tokenizer.json") && text.contains("model.type Unigram is not supported"), "\(text)")
    }

    @Test func anEndTokenThatIsNoTokenIsAClearError() throws {
        let folder = try UserModelFolder.make(tokenizer: "llama3", generation: ["eos_token_id": [1, 9999]])
        let text = message { _ = try BaseModel.load(folder: folder, log: { _ in }) }
        #expect(text.contains("generation_config.json") && text.contains("eos_token_id is 9999"), "\(text)")
        #expect(text.contains("not a token of tokenizer.json"), "\(text)")
    }

    @Test func baseOptionChoosesAPresetOrAFolder() throws {
        let folder = try UserModelFolder.make(tokenizer: "gpt2")
        func choice(_ base: String?, quick: Bool = false) throws -> BaseChoice {
            var options = try LessonOptions.parse(quick ? ["--quick"] : [])
            options.base = base
            return try options.baseChoice()
        }
        if case .folder(let url) = try choice(folder.path) { #expect(url.path == folder.path) } else {
            Issue.record("a folder's path should choose the folder")
        }
        if case .preset(let preset) = try choice("tiny") { #expect(preset.name == "tiny") } else {
            Issue.record("tiny should choose the preset")
        }
        if case .preset(let preset) = try choice(nil, quick: true) { #expect(preset.name == "quick") } else {
            Issue.record("--quick without --base should choose the quick preset")
        }
        let missing = folder.appendingPathComponent("no-such-model").path
        let text = message { _ = try choice(missing) }
        #expect(text.contains("no such model folder") && text.contains("tiny, small, medium, quick"), "\(text)")
        let rebuild = message { _ = try BaseModel.load(.folder(folder), rebuild: true, log: { _ in }) }
        #expect(rebuild.contains("leave --rebuild-base out"), "\(rebuild)")
    }
}
