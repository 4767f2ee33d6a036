"""Checks that an adapter trained here (any method: LoRA, prompt tuning, ...) loads in Python's
peft onto the base model saved here and gives the same logits as `peft forward --adapter` (and,
for methods that merge, the same merged logits).

    swift run peft train --model .cache/base-models/quick-corpus2 --data sentiment --out /tmp/adapter --steps 30 [--method prompt-tuning]
    echo '{"input_ids": [[10, 20, 30, 40, 50, 60, 70, 80], [5, 6, 7, 8, 9, 100, 200, 300]]}' > /tmp/b.json
    swift run peft forward --model .cache/base-models/quick-corpus2 --adapter /tmp/adapter --batch /tmp/b.json --out /tmp/swift.safetensors
    ~/peft-refenv/bin/python scripts/check_adapter_interop.py .cache/base-models/quick-corpus2 /tmp/adapter /tmp/b.json /tmp/swift.safetensors

Multitask prompt tuning reads a task per row: give the same ids to both sides, either as "task_ids"
in the batch file or as `--task-ids 2,0` to `peft forward` and as a fifth argument `2,0` here.
"""
import json, sys, torch
from transformers import LlamaForCausalLM
from peft import PeftModel
from safetensors.torch import load_file

base_dir, adapter_dir, batch_file, swift_file = sys.argv[1:5]
model = LlamaForCausalLM.from_pretrained(base_dir, torch_dtype=torch.float32)
model = PeftModel.from_pretrained(model, adapter_dir)
model.eval()
batch = json.load(open(batch_file))
ids = torch.tensor(batch["input_ids"])
task_ids = [int(t) for t in sys.argv[5].split(",")] if len(sys.argv) > 5 else batch.get("task_ids")
extra = {} if task_ids is None else {"task_ids": torch.tensor(task_ids)}
swift = load_file(swift_file)
with torch.no_grad():
    logits = model(input_ids=ids, **extra).logits
d = (logits - swift["logits"]).abs().max().item()
print(f"peft ({model.peft_config['default'].peft_type}) loaded the adapter: logits {tuple(logits.shape)}"
      + (f", task_ids {task_ids}" if task_ids is not None else "") + f", max |logits - swift| = {d:.3g}")
ok = logits.shape == swift["logits"].shape and d < 1e-4
if "merged_logits" in swift:
    with torch.no_grad():
        merged = model.merge_and_unload()(input_ids=ids).logits
    dm = (merged - swift["merged_logits"]).abs().max().item()
    print(f"merged: max |logits - swift| = {dm:.3g}")
    ok = ok and dm < 1e-4
sys.exit(0 if ok else 1)
