"""Loads a 4-bit model folder (written by `peft quantize`, `peft merge` on a 4-bit base, or
transformers itself) with transformers + bitsandbytes on the CPU, prints its logits on a batch and
compares them with a logits file written by `peft forward` on the same folder.

    swift run peft quantize --model ../shared/golden/llama-tiny/base --out /tmp/q4 --quant-type nf4 --double-quant
    swift run peft forward --model /tmp/q4 --batch ../shared/golden/llama-tiny/batch.json --out /tmp/q4.safetensors
    ~/peft-refenv/bin/python scripts/check_4bit_load.py /tmp/q4 /tmp/q4.safetensors

Exit status 0 when transformers loaded the folder as 4-bit layers and (given a logits file) the
largest logit difference is below 1e-4.
"""
import json, sys
import torch
import bitsandbytes as bnb
from transformers import LlamaForCausalLM
from safetensors.torch import load_file

folder = sys.argv[1]
swift_file = sys.argv[2] if len(sys.argv) > 2 else None
batch_file = sys.argv[3] if len(sys.argv) > 3 else "../shared/golden/llama-tiny/batch.json"

model = LlamaForCausalLM.from_pretrained(folder, device_map="cpu")
layers = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
q = model.config.quantization_config
print(f"transformers loaded {folder}: {len(layers)} bitsandbytes Linear4bit layers, "
      f"quant_type {q.bnb_4bit_quant_type}, double quant {q.bnb_4bit_use_double_quant}")
batch = json.load(open(batch_file))
ids, labels = torch.tensor(batch["input_ids"]), torch.tensor(batch["labels"])
with torch.no_grad():
    out = model(input_ids=ids, labels=labels)
torch.set_printoptions(precision=6, linewidth=120)
print(f"loss {out.loss.item():.6f}; logits {tuple(out.logits.shape)}, first row: {out.logits[0, 0, :6]}")
ok = len(layers) > 0
if swift_file:
    swift = load_file(swift_file)
    d = (out.logits - swift["logits"]).abs().max().item()
    dl = abs(out.loss.item() - swift["loss"].item())
    print(f"max |logits(transformers) - logits(peft forward)| = {d:.3g}; |loss difference| = {dl:.3g}")
    ok = ok and d < 1e-4
sys.exit(0 if ok else 1)
