"""Checks that a model folder written by `peft convert` (or any save here) loads in transformers
and gives the logits the shared golden file expects.

    swift run peft convert --model ../shared/golden/llama-tiny/base --out /tmp/swift-saved
    ~/peft-refenv/bin/python scripts/check_interop.py /tmp/swift-saved
"""
import json, sys, torch
from transformers import LlamaForCausalLM
from safetensors.torch import load_file

folder = sys.argv[1]
golden = sys.argv[2] if len(sys.argv) > 2 else "../shared/golden/llama-tiny"
model = LlamaForCausalLM.from_pretrained(folder, torch_dtype=torch.float32)
batch = json.load(open(f"{golden}/batch.json"))
ids, labels = torch.tensor(batch["input_ids"]), torch.tensor(batch["labels"])
out = model(input_ids=ids, labels=labels)
expected = load_file(f"{golden}/expected_base.safetensors")
d = (out.logits - expected["logits"]).abs().max().item()
print(f"transformers loaded {folder}: max |logits - expected| = {d:.3g}, loss {out.loss.item():.6f} vs {expected['loss'].item():.6f}")
sys.exit(0 if d < 1e-4 else 1)
