"""Makes the extra conformance fixtures in Tests/LlamaTests/Fixtures with the Python reference
stack (transformers, float32, CPU). The tests read only the files this writes; CI never runs it.

    python3 -m venv ~/peft-refenv && ~/peft-refenv/bin/pip install torch transformers peft safetensors
    ~/peft-refenv/bin/python scripts/make_fixtures.py

llama-gqa: a shape unlike the shared golden model: grouped-query attention (6 query heads,
2 key/value heads), tied embeddings, rope_theta 500, RMSNorm weights not 1, odd sizes.
"""
import json, os, torch
from transformers import LlamaConfig, LlamaForCausalLM
from safetensors.torch import save_file

here = os.path.join(os.path.dirname(__file__), "..", "Tests", "LlamaTests", "Fixtures")
torch.manual_seed(1234)
cfg = LlamaConfig(vocab_size=61, hidden_size=48, intermediate_size=72, num_hidden_layers=2,
                  num_attention_heads=6, num_key_value_heads=2, head_dim=8, rope_theta=500.0,
                  max_position_embeddings=32, rms_norm_eps=1e-5, tie_word_embeddings=True)
model = LlamaForCausalLM(cfg).float()
with torch.no_grad():
    for name, p in model.named_parameters():
        if "norm" in name:
            p.copy_(1 + 0.3 * torch.randn_like(p))
        else:
            p.copy_(0.08 * torch.randn_like(p))
out = os.path.join(here, "llama-gqa")
model.save_pretrained(os.path.join(out, "base"), safe_serialization=True)
ids = torch.randint(0, cfg.vocab_size, (3, 9))
labels = ids.clone(); labels[0, :3] = -100; labels[2, 5] = -100
json.dump({"input_ids": ids.tolist(), "labels": labels.tolist()}, open(os.path.join(out, "batch.json"), "w"))
res = model(input_ids=ids, labels=labels)
res.loss.backward()
tensors = {"logits": res.logits.detach().contiguous(), "loss": res.loss.detach().reshape(1)}
for name, p in model.named_parameters():
    tensors["grad." + name] = p.grad.detach().contiguous()
save_file(tensors, os.path.join(out, "expected.safetensors"))
print("wrote", out, "loss", res.loss.item(), sorted(tensors)[:3], len(tensors))
