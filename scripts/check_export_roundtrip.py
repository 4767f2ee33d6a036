"""Checks the round trip of `peft export --to peft`: an adapter trained by the exported Python script
loads in the Swift project, and `peft forward --adapter` gives the loss and logits PEFT gives on the
same records (encoded in the project's prompt layout, as the script trains them).

    swift run peft train --model BASE --data data.jsonl --out /tmp/lora --steps 60
    swift run peft export --adapter /tmp/lora --to peft --out /tmp/train_lora.py
    ~/peft-refenv/bin/python /tmp/train_lora.py --output-dir /tmp/py-lora
    ~/peft-refenv/bin/python scripts/check_export_roundtrip.py BASE /tmp/py-lora data.jsonl [ROWS]

PEFT_BIN=.build/debug/peft runs a built binary instead of `swift run -q peft`. Exit status 0: the adapter
loads and the logits agree to 1e-4.
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

# Multitask prompt tuning reads a task per row: an Alpaca file is one task, id 0 (as the script trains it).
multitask = model.peft_config["default"].peft_type == "MULTITASK_PROMPT_TUNING"
task_ids = [0] * len(ids) if multitask else None

with tempfile.TemporaryDirectory() as tmp:
    batch, out = os.path.join(tmp, "batch.json"), os.path.join(tmp, "swift.safetensors")
    json.dump({"input_ids": ids, "labels": labels} | ({"task_ids": task_ids} if multitask else {}), open(batch, "w"))
    peft = [os.environ["PEFT_BIN"]] if os.environ.get("PEFT_BIN") else ["swift", "run", "-q", "peft"]
    swift = subprocess.run(peft + ["forward", "--model", base_dir, "--adapter", adapter_dir,
                                   "--batch", batch, "--out", out], capture_output=True, text=True)
    print(swift.stdout.strip())
    if swift.returncode != 0:
        print(swift.stderr.strip())
        sys.exit(1)
    theirs = load_file(out)

# The loss is computed here, not by passing labels: PEFT's AdaLoRA forward with labels fails on an adapter
# loaded for inference (it reads trainable_adapter_name, which only training sets), so this is the plain
# answer loss; `peft forward`'s adds AdaLoRA's orthogonality term. Prompt tuning and P-tuning return logits
# for the virtual tokens too (both sides): the last `length` positions are the tokens'.
extra = {"task_ids": torch.tensor(task_ids)} if multitask else {}
with torch.no_grad():
    logits = model(input_ids=torch.tensor(ids), **extra).logits
tokens = logits[:, -length:]
targets = torch.tensor(labels)[:, 1:].reshape(-1)
loss = torch.nn.functional.cross_entropy(tokens[:, :-1].reshape(-1, tokens.shape[-1]), targets, ignore_index=-100)
d = (logits - theirs["logits"]).abs().max().item() if logits.shape == theirs["logits"].shape else float("inf")
print(f"peft ({model.peft_config['default'].peft_type}): answer loss {loss.item():.6f}; "
      f"peft forward: loss {theirs['loss'].item():.6f}; logits {list(logits.shape)}, max |logits - swift| = {d:.3g}")
sys.exit(0 if d < 1e-4 else 1)
