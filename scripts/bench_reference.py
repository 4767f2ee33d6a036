"""The PyTorch side of `peft bench` for the methods ../shared/bench/torch_ref_bench.py does not cover.

Hugging Face `LlamaForCausalLM` + `peft` on the CPU, 2 threads, AdamW, random tokens, loss with
labels = input_ids, 3 warm-up steps, then `--steps` timed ones: the same work `peft bench` times.
  --method qlora          the base quantized by bitsandbytes to NF4 with double quantization
                          (Linear4bit, float32 compute), LoRA r, alpha 2r on q_proj, v_proj
  --method prompt-tuning  PromptTuningConfig(num_virtual_tokens=N), random init
  --method adalora        AdaLoraConfig(init_r=12, target_r=8, tinit=0, tfinal=0, deltaT=1) on
                          q_proj, v_proj, update_and_allocate after every step
  --method full | lora    as torch_ref_bench.py
Prints `torch <method> tokens/s N`, counting the real tokens (batch · seq), as `peft bench` does.

  python3 -m venv ~/peft-refenv && ~/peft-refenv/bin/pip install torch transformers peft bitsandbytes
  swift run -c release peft bench --method prompt-tuning --torch ~/peft-refenv/bin/python
"""
import argparse, tempfile, time
import torch
from transformers import LlamaConfig, LlamaForCausalLM

p = argparse.ArgumentParser()
p.add_argument("--vocab", type=int, default=512)
p.add_argument("--d-model", type=int, default=128)
p.add_argument("--layers", type=int, default=4)
p.add_argument("--heads", type=int, default=4)
p.add_argument("--ffn", type=int, default=512)
p.add_argument("--seq", type=int, default=64)
p.add_argument("--batch", type=int, default=32)
p.add_argument("--steps", type=int, default=30)
p.add_argument("--method", default="qlora")
p.add_argument("--rank", type=int, default=8)
p.add_argument("--virtual-tokens", type=int, default=20)
p.add_argument("--threads", type=int, default=2)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
cfg = LlamaConfig(vocab_size=a.vocab, hidden_size=a.d_model, intermediate_size=a.ffn,
                  num_hidden_layers=a.layers, num_attention_heads=a.heads, num_key_value_heads=a.heads,
                  max_position_embeddings=a.seq + a.virtual_tokens, tie_word_embeddings=False)
model = LlamaForCausalLM(cfg)
allocate = None
if a.method == "qlora":
    from transformers import BitsAndBytesConfig
    from peft import LoraConfig, get_peft_model
    with tempfile.TemporaryDirectory() as folder:
        model.save_pretrained(folder)
        quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                   bnb_4bit_compute_dtype=torch.float32)
        model = LlamaForCausalLM.from_pretrained(folder, quantization_config=quant, device_map="cpu",
                                                 torch_dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=a.rank, lora_alpha=2 * a.rank, target_modules=["q_proj", "v_proj"],
                                             lora_dropout=0.0))
elif a.method == "prompt-tuning":
    from peft import PromptTuningConfig, get_peft_model
    model = get_peft_model(model, PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=a.virtual_tokens))
elif a.method == "adalora":
    from peft import AdaLoraConfig, get_peft_model
    model = get_peft_model(model, AdaLoraConfig(init_r=12, target_r=8, tinit=0, tfinal=0, deltaT=1,
                                                total_step=3 + a.steps, lora_alpha=24,
                                                target_modules=["q_proj", "v_proj"]))
    allocate = model.base_model.update_and_allocate
elif a.method == "lora":
    from peft import LoraConfig, get_peft_model
    model = get_peft_model(model, LoraConfig(r=a.rank, lora_alpha=2 * a.rank, target_modules=["q_proj", "v_proj"],
                                             lora_dropout=0.0))
elif a.method != "full":
    raise SystemExit(f"unknown --method {a.method}; choose full, lora, qlora, adalora, prompt-tuning")
params = [q for q in model.parameters() if q.requires_grad]
opt = torch.optim.AdamW(params, lr=1e-3)
x = torch.randint(0, a.vocab, (a.batch, a.seq))
global_step = 0
def step():
    global global_step
    out = model(input_ids=x, labels=x)
    out.loss.backward()
    opt.step()
    if allocate is not None:
        allocate(global_step)
    opt.zero_grad(set_to_none=True)
    global_step += 1
for _ in range(3): step()
t = time.perf_counter()
for _ in range(a.steps): step()
dt = time.perf_counter() - t
print(f"torch {a.method} tokens/s {a.batch * a.seq * a.steps / dt:.0f}")
