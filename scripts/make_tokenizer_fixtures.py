"""Trains small tokenizers of the kinds LLaMA-architecture models ship, with the Hugging Face
`tokenizers` library, and writes what the library makes of a list of Unicode texts: the fixtures
of Tests/CorpusTests/TokenizerFixtureTests.swift (the tests themselves never need Python).

    ~/peft-refenv/bin/python scripts/make_tokenizer_fixtures.py

Writes Tests/CorpusTests/Fixtures/tokenizers/:
  <kind>.tokenizer.json   the trained tokenizer, as `tokenizers` saves it (a few hundred tokens)
  <kind>.expected.json    for every text: ids with and without special tokens, and the decoded texts
                          (skipping special tokens and keeping them)
  refused/<name>.tokenizer.json + refused.json
                          tokenizers this project must refuse, with the part the error must name

Kinds: "smollm" (byte-level BPE with Digits + ByteLevel, its own ids, added tokens special or not, with
lstrip/rstrip/single_word), "gpt2" (ByteLevel with add_prefix_space), "llama3" (Split with LLaMA 3's regex,
then ByteLevel without regex; ignore_merges; a BOS template), "llama2" (TinyLlama: Prepend + Replace
normalizer, byte fallback, <s> template, Replace/ByteFallback/Fuse/Strip decoder) and "metaspace" (NFC,
Metaspace pre-tokenizer with prepend_scheme "first", byte fallback, "<s> $A </s>" template, Metaspace decoder,
normalized added tokens that NFC changes, one of them special).
"""
import json
import os
import random

import tokenizers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "CorpusTests", "Fixtures", "tokenizers")
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")
BYTE_TOKENS = [f"<0x{b:02X}>" for b in range(256)]


def corpus():
    """A deterministic training text: English sentences, a few other scripts, digits and code."""
    g = random.Random(7)
    names = ["Alice", "Bruno", "Chen", "Dalia", "Émile", "Farah", "Gus", "Hana", "Ines", "José"]
    cities = ["Paris", "Rome", "Tokyo", "Lima", "Oslo", "Cairo", "Kyiv", "Quito", "Zürich", "Montréal"]
    jobs = ["baker", "nurse", "pilot", "teacher", "farmer", "writer", "doctor", "painter"]
    lines = []
    for _ in range(1500):
        n, c, j = g.choice(names), g.choice(cities), g.choice(jobs)
        lines.append(g.choice([
            f"{n} lives in {c} and works as a {j}.",
            f"Question: Where does {n} live?\nAnswer: {c}",
            f"Review: The food was not great, but the staff was friendly.\nSentiment: positive",
            f"It's {n}'s {j} job; they'll move to {c} in {g.randint(1990, 2030)}.",
            f"The {j} paid {g.randint(1, 99999)} euros on {g.randint(1, 28)}/{g.randint(1, 12)}.",
            "    def area(r):\n        return 3.14159 * r ** 2\n",
        ]))
    lines += ["Crème brûlée, naïve café, résumé, Straße, Übergröße."] * 20
    lines += ["東京は日本の首都です。我喜欢学习中文。"] * 10
    lines += ["Привет, мир! Ωμέγα ελληνικά."] * 10
    lines += ["emoji 🚀🔥 and more 🚀"] * 10
    return lines


def texts(added):
    """The texts every tokenizer is checked on; `added` are added tokens to place inside text."""
    fixed = [
        "Hello world", " Hello world", "Hello  world", "Hello   world  ", "  leading spaces", "trailing spaces   ",
        "", " ", "   ", "\n", "line one\nline two\n\nline four", "tabs\tand\t\ttabs", "CRLF\r\nline\r\n",
        "\n\n\nHello", " \n x", "naïve café résumé", "cafe\u0301 and re\u0301sume\u0301 (decomposed accents)",
        "Crème brûlée à la carte", "Straße, Übergröße, ÄÖÜ", "東京は日本の首都です。", "我喜欢学习中文", "한국어 텍스트",
        "emoji 🚀🔥 and 👩‍👩‍👧 family, flag 🇫🇷", "digits 1234567 and 3.14159, 1,000,000", "phone: +1 (555) 012-3456",
        "I'm sure you'll see it's the dog's bone; THEY'RE HERE, WE'VE GOT IT", "don't 'quote' \"double\" 's 'S",
        "math: x² + y² = z², ∑ α·β ≥ 0", "Ωμέγα ελληνικά", "Привет, мир!", "مرحبا بالعالم", "नमस्ते दुनिया",
        "mixed\u00a0nbsp and\u3000ideographic space", "Question: Where does Alice live?\nAnswer: Paris",
        "Review: The food was not great.\nSentiment: positive", "ſ 'ſ 'Ş", "x\u200dy zero width joiner",
        "line sep\u2028and para\u2029end", "numbers ١٢٣ and ⅫⅣ ½ ²", "under_score snake_case __init__",
        "!!!??? ... --- ***", "url https://example.com/path?q=1&r=2#frag", "code: def f(x):\n    return x ** 2\n",
        "▁already▁has▁metaspace and Ġbyte Ġlevel", "<0x41> is not a byte token in text", "a\u0000b\u0007c",
        "   \n\n  \t  end", "tail newline\n", "'", "''", "1", "12345678901", "x1y22z333w4444",
    ]
    for token in added:
        fixed += [f"a{token}b", f"before {token} after", f"{token}", f"  {token}  ", f"x {token}{token} y",
                  f"{token}start", f"end{token}", f"word{token}word", f"{token}\n{token}"]
    g = random.Random(13)
    alphabet = ["a", "b", "Z", "é", "e\u0301", "東", "🚀", " ", "  ", "\n", "\t", "\r", "'", "s", "T", "re", "LL",
                "1", "23", "456", "!", "?", ".", "_", "-", "\u00a0", "\u3000", "ſ", "Ⅻ", "½", "▁", "Ġ", "\u2028"]
    alphabet += added
    randoms = ["".join(g.choice(alphabet) for _ in range(g.randint(1, 12))) for _ in range(120)]
    return fixed + randoms


def expected(tok, text_list):
    cases = []
    for text in text_list:
        with_special = tok.encode(text)
        plain = tok.encode(text, add_special_tokens=False)
        cases.append({
            "text": text,
            "ids": with_special.ids,
            "ids_without_special_tokens": plain.ids,
            "decoded": tok.decode(with_special.ids, skip_special_tokens=True),
            "decoded_with_special_tokens": tok.decode(with_special.ids, skip_special_tokens=False),
        })
    return cases


def write(name, tok, added_in_text):
    os.makedirs(OUT, exist_ok=True)
    text = tok.to_str(pretty=True)
    with open(os.path.join(OUT, f"{name}.tokenizer.json"), "w", encoding="utf-8") as f:
        f.write(text + "\n")
    # Read back what was written, so the expectations belong to the file the tests load.
    tok = Tokenizer.from_str(text)
    cases = expected(tok, texts(added_in_text))
    record = {"tokenizers_version": tokenizers.__version__, "kind": name, "cases": cases}
    with open(os.path.join(OUT, f"{name}.expected.json"), "w", encoding="utf-8") as f:
        json.dump(record, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{name}: vocabulary {tok.get_vocab_size()}, {len(cases)} texts")


def smollm():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=420, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus(), trainer)
    tok.add_tokens([AddedToken("<tool>", normalized=True), AddedToken("<mask>", lstrip=True, normalized=False),
                    AddedToken("[W]", single_word=True, normalized=False),
                    AddedToken("<sep>", rstrip=True, normalized=False)])
    write("smollm", tok, ["<|endoftext|>", "<|im_start|>", "<tool>", "<mask>", "[W]", "<sep>"])


def gpt2():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=380, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus(), trainer)
    write("gpt2", tok, ["<|endoftext|>"])


def llama3():
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus(), trainer)
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos)])])
    write("llama3", tok, ["<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>"])


def with_byte_tokens(tok):
    """LLaMA's layout: <unk>, <s>, </s>, then the 256 byte tokens as ordinary vocabulary (not added tokens)."""
    data = json.loads(tok.to_str())
    data["added_tokens"] = [t for t in data["added_tokens"] if t["content"] not in BYTE_TOKENS]
    return Tokenizer.from_str(json.dumps(data, ensure_ascii=False))


def llama2():
    tok = Tokenizer(models.BPE(byte_fallback=True, unk_token="<unk>", fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    trainer = trainers.BpeTrainer(vocab_size=560, special_tokens=["<unk>", "<s>", "</s>"] + BYTE_TOKENS,
                                  limit_alphabet=70, show_progress=False)
    tok.train_from_iterator(corpus(), trainer)
    tok = with_byte_tokens(tok)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B:1",
                                                       special_tokens=[("<s>", tok.token_to_id("<s>"))])
    tok.add_tokens([AddedToken("<|user|>", normalized=False), AddedToken("Wörterbuch", normalized=True)])
    write("llama2", tok, ["<s>", "</s>", "<|user|>", "Wörterbuch", "<unk>"])


def metaspace():
    tok = Tokenizer(models.BPE(byte_fallback=True, unk_token="<unk>", fuse_unk=True))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    tok.decoder = decoders.Sequence([decoders.ByteFallback(),
                                     decoders.Metaspace(replacement="▁", prepend_scheme="first", split=True)])
    trainer = trainers.BpeTrainer(vocab_size=540, special_tokens=["<unk>", "<s>", "</s>"] + BYTE_TOKENS,
                                  limit_alphabet=60, show_progress=False)
    tok.train_from_iterator(corpus(), trainer)
    tok = with_byte_tokens(tok)
    bos, eos = tok.token_to_id("<s>"), tok.token_to_id("</s>")
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", pair="<s> $A </s> $B:1 </s>:1",
                                                       special_tokens=[("<s>", bos), ("</s>", eos)])
    # Normalized added tokens whose content NFC changes: `tokenizers` matches and decodes them in their
    # normalized form, and a special one is then not skipped (its normalized text is not its content).
    tok.add_tokens([AddedToken("<cafe\u0301>", special=True, normalized=True),
                    AddedToken("Ωme\u0301ga", normalized=True)])
    write("metaspace", tok, ["<s>", "</s>", "<cafe\u0301>", "<caf\u00e9>", "Ωme\u0301ga", "Ωm\u00e9ga"])


def refused():
    """Tokenizers the project cannot reproduce exactly, each with the part its error must name."""
    folder = os.path.join(OUT, "refused")
    os.makedirs(folder, exist_ok=True)
    small = ["hello world", "the quick brown fox"] * 20
    cases = []

    def save(name, tok, part, edit=None):
        data = json.loads(tok.to_str())
        if edit:
            edit(data)
        with open(os.path.join(folder, f"{name}.tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False)
            f.write("\n")
        cases.append({"file": f"refused/{name}.tokenizer.json", "part": part})

    def bpe(**options):
        tok = Tokenizer(models.BPE(**options))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        tok.train_from_iterator(small, trainers.BpeTrainer(vocab_size=280, show_progress=False,
                                                           initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
        return tok

    wordpiece = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    wordpiece.pre_tokenizer = pre_tokenizers.Whitespace()
    wordpiece.train_from_iterator(small, trainers.WordPieceTrainer(vocab_size=60, special_tokens=["[UNK]"],
                                                                   show_progress=False))
    save("wordpiece", wordpiece, "model.type WordPiece")
    unigram = Tokenizer(models.Unigram())
    unigram.train_from_iterator(small, trainers.UnigramTrainer(vocab_size=30, show_progress=False))
    save("unigram", unigram, "model.type Unigram")
    lower = bpe()
    lower.normalizer = normalizers.Lowercase()
    save("lowercase", lower, "normalizer Lowercase")
    nfkc = bpe()
    nfkc.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Strip()])
    save("nfkc", nfkc, "normalizer NFKC")
    regex_replace = bpe()
    regex_replace.normalizer = normalizers.Replace(Regex(r"\s+"), " ")
    save("regex-replace", regex_replace, "normalizer Replace")
    whitespace = bpe()
    whitespace.pre_tokenizer = pre_tokenizers.Whitespace()
    save("whitespace", whitespace, "pre_tokenizer Whitespace")
    other_split = bpe()
    other_split.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"\p{N}{1,2}| ?\p{L}+"), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    save("other-split", other_split, "pre_tokenizer Split")
    save("subword-prefix", bpe(), "model.continuing_subword_prefix",
         edit=lambda d: d["model"].update({"continuing_subword_prefix": "##"}))
    save("dropout", bpe(dropout=0.1), "model.dropout")
    wp_decoder = bpe()
    wp_decoder.decoder = decoders.WordPiece()
    save("wordpiece-decoder", wp_decoder, "decoder WordPiece")
    bert = bpe()
    bert.add_special_tokens(["[CLS]", "[SEP]"])
    bert.post_processor = processors.BertProcessing(("[SEP]", bert.token_to_id("[SEP]")),
                                                    ("[CLS]", bert.token_to_id("[CLS]")))
    save("bert-processing", bert, "post_processor BertProcessing")
    with open(os.path.join(OUT, "refused.json"), "w", encoding="utf-8") as f:
        json.dump({"tokenizers_version": tokenizers.__version__, "cases": cases}, f, indent=1)
        f.write("\n")
    print(f"refused: {len(cases)} tokenizers")


if __name__ == "__main__":
    smollm()
    gpt2()
    llama3()
    llama2()
    metaspace()
    refused()
