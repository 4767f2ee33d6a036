"""Checks that Hugging Face `tokenizers` reads a tokenizer.json written here and encodes a text
to the same ids as `peft tokenize`.

    ~/peft-refenv/bin/python scripts/check_tokenizer_interop.py .cache/base-models/small-corpus2 "Review: The food was not great."
"""
import subprocess, sys
from tokenizers import Tokenizer

folder, text = sys.argv[1], sys.argv[2]
ours = list(map(int, subprocess.run(["swift", "run", "-q", "peft", "tokenize", "--model", folder, text],
                                    capture_output=True, text=True, check=True).stdout.split("\n")[0].split()))
theirs = Tokenizer.from_file(f"{folder}/tokenizer.json").encode(text).ids
print("ids here:        ", ours)
print("ids in tokenizers:", theirs)
sys.exit(0 if ours == theirs else 1)
