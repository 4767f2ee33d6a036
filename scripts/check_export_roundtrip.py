"""Checks the round trip of `peft export --to peft`: an adapter trained by the exported Python script
loads in the Swift project, and `peft forward --adapter` gives the loss and logits PEFT gives on the
same records (encoded in the project's prompt layout, as the script trains them).

    swift run peft train --model BASE --data data.jsonl --out /tmp/lora --steps 60
    swift run peft export --adapter /tmp/lora --to peft --out /tmp/train_lora.py
    ~/peft-refenv/bin/python /tmp/train_lora.py --output-dir /tmp/py-lora
    ~/peft-refenv/bin/python scripts/check_export_roundtrip.py BASE /tmp/py-lora data.jsonl
"""
import json
import os
import subprocess
import sys
import tempfile

import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

base_dir, adapter_dir, data_file = sys.argv[1:4]
rows = int(sys.argv[4]) if len(sys.argv) > 4 else 8
tokenizer = PreTrainedTokenizerFast(tokenizer_file=os.path.join(base_dir, "tokenizer.json"))
model = LlamaForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
eos, pad = model.config.eos_token_id, model.config.pad_token_id
model = PeftModel.from_pretrained(model, adapter_dir)
model.eval()

records = [json.loads(line) for line in open(data_file, encoding="utf-8") if line.strip()][:rows]
ids, labels = [], []
for r in records:
    prompt = f"Instruction: {r['instruction']}\nInput: {r['input']}\nResponse:" if r.get("input") \
        else f"Instruction: {r['instruction']}\nResponse:"
    p = tokenizer.encode(prompt, add_special_tokens=False)
    a = tokenizer.encode(" " + r["output"], add_special_tokens=False) + [eos]
    ids.append(p + a)
    labels.append([-100] * len(p) + a)
length = max(map(len, ids))
ids = [x + [pad] * (length - len(x)) for x in ids]
labels = [y + [-100] * (length - len(y)) for y in labels]

with tempfile.TemporaryDirectory() as tmp:
    batch, out = os.path.join(tmp, "batch.json"), os.path.join(tmp, "swift.safetensors")
    json.dump({"input_ids": ids, "labels": labels}, open(batch, "w"))
    swift = subprocess.run(["swift", "run", "-q", "peft", "forward", "--model", base_dir, "--adapter", adapter_dir,
                            "--batch", batch, "--out", out], capture_output=True, text=True)
    print(swift.stdout.strip())
    if swift.returncode != 0:
        print(swift.stderr.strip())
        sys.exit(1)
    theirs = load_file(out)

with torch.no_grad():
    result = model(input_ids=torch.tensor(ids), labels=torch.tensor(labels))
d = (result.logits - theirs["logits"]).abs().max().item()
print(f"peft ({model.peft_config['default'].peft_type}): loss {result.loss.item():.6f}; "
      f"peft forward: loss {theirs['loss'].item():.6f}; max |logits - swift| = {d:.3g}")
sys.exit(0 if result.logits.shape == theirs["logits"].shape and d < 1e-4 else 1)
