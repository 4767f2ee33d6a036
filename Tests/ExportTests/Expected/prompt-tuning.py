#!/usr/bin/env python3
"""The prompt-tuning run of `peft train` (/adapters/prompt), for transformers + peft.

Written by `peft export --to peft` from the adapter's adapter_config.json and training_args.json. Run:
    python this_file.py --model BASE --data DATA.jsonl --output-dir DIR [--max-steps N]
It trains the adapter's configuration with peft train's recipe: Alpaca records in this project's prompt layout
(Sources/Corpus/UserData.swift), the loss on the answer tokens and the end-of-text token only, a tenth of the
records held out, AdamW without weight decay, warm-up then cosine decay, gradients clipped to norm 1.0. PyTorch
draws the initialisation, the split and the batches, so the losses differ a little from the Swift run's; the recipe
does not. save_pretrained writes a PEFT adapter folder (and training_args.json) that the Swift project loads:
    swift run peft forward --model BASE --adapter DIR --batch batch.json --out out.safetensors
Needs torch, transformers (4.56 or later) and peft.
"""


import argparse
import json
import math
import os
import random

import torch
from peft import PromptTuningConfig, get_peft_model
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast


# training_args.json: the settings peft train recorded (transformers' TrainingArguments names).
TRAINING_ARGS = {
    "adam_beta1": 0.9,
    "adam_beta2": 0.999,
    "adam_epsilon": 1e-08,
    "cutoff_len": 108,
    "data": "/data/alpaca.jsonl",
    "data_format": "alpaca",
    "learning_rate": 0.03,
    "loraplus_lr_ratio": None,
    "lr_scheduler_type": "cosine",
    "max_grad_norm": 1,
    "max_steps": 300,
    "method": "prompt-tuning",
    "model_name_or_path": "/models/small-corpus2",
    "optim": "adamw_torch",
    "per_device_train_batch_size": 16,
    "quantization": None,
    "seed": 0,
    "warmup_steps": 30,
    "weight_decay": 0,
}


def make_peft_config():
    """The adapter's configuration: adapter_config.json's fields under PEFT's names."""
    return PromptTuningConfig(
        task_type="CAUSAL_LM",
        num_virtual_tokens=20,
        prompt_tuning_init="RANDOM",
    )


def alpaca_example(record):
    """This project's prompt layout (alpacaExample in Sources/Corpus/UserData.swift): prompt, answer."""
    instruction, text, output = record["instruction"], record.get("input") or "", record["output"]
    if text:
        return f"Instruction: {instruction}\nInput: {text}\nResponse:", " " + output
    return f"Instruction: {instruction}\nResponse:", " " + output


def load_alpaca(path):
    """Alpaca records from a .json array or a .jsonl file (one object per line)."""
    with open(path, encoding="utf-8-sig") as f:
        text = f.read()
    if text.lstrip().startswith("["):
        records = json.loads(text)
    else:
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
    for i, record in enumerate(records):
        if not isinstance(record, dict) or not record.get("instruction") or not record.get("output"):
            raise SystemExit(f"{path}: record {i + 1} needs a non-empty instruction and output")
    if not records:
        raise SystemExit(f"{path} holds no records (expected instruction, input, output)")
    return records


def encode(tokenizer, prompt, answer, eos_id):
    """Ids and labels: -100 over the prompt, so the loss covers the answer and the end-of-text token."""
    p = tokenizer.encode(prompt, add_special_tokens=False)
    a = tokenizer.encode(answer, add_special_tokens=False) + [eos_id]
    return p + a, [-100] * len(p) + a


def split(examples, seed):
    """A tenth held out for validation (at least one example), the rest to train on."""
    shuffled = examples[:]
    random.Random(seed).shuffle(shuffled)
    cut = max(1, len(shuffled) * 9 // 10)
    return shuffled[:cut], (shuffled[cut:] if cut < len(shuffled) else shuffled[-1:])


def batches(data, batch_size, seed):
    """Batches as peft train draws them: the training set reshuffled every epoch, read batch after batch."""
    draw = random.Random(seed + 0x5EED)
    order, cursor = [], 0
    while True:
        items = []
        for _ in range(min(batch_size, len(data))):
            if cursor == len(order):
                order, cursor = list(range(len(data))), 0
                draw.shuffle(order)
            items.append(data[order[cursor]])
            cursor += 1
        yield items


def collate(items, pad_id):
    """Rows padded on the right: padded labels are -100 and the attention mask hides the padding."""
    length = max(len(ids) for ids, _ in items)
    ids = [x + [pad_id] * (length - len(x)) for x, _ in items]
    labels = [y + [-100] * (length - len(y)) for _, y in items]
    mask = [[1] * len(x) + [0] * (length - len(x)) for x, _ in items]
    return torch.tensor(ids), torch.tensor(labels), torch.tensor(mask)


def answer_loss(model, examples, pad_id, batch_size=32):
    """Mean cross-entropy over the answer tokens of `examples`, teacher-forced, without gradients."""
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(examples), batch_size):
            ids, labels, mask = collate(examples[start:start + batch_size], pad_id)
            logits = model(input_ids=ids, attention_mask=mask).logits[:, -ids.shape[1]:]
            targets = labels[:, 1:].reshape(-1)
            total += torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), targets,
                                                       ignore_index=-100, reduction="sum").item()
            count += (targets != -100).sum().item()
    return total / max(count, 1)


def lr_multiplier(step, max_steps, warmup_steps):
    """peft train's schedule at optimizer step `step`, counted from 1: linear warm-up, then half a
    cosine to 0. (transformers' get_cosine_schedule_with_warmup counts from 0: its first step has learning
    rate 0.)"""
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    progress = (step - warmup_steps) / max(1, max_steps - warmup_steps)
    return max(0.0, 0.5 * (1 + math.cos(math.pi * progress)))


def make_optimizer(model):
    """AdamW without weight decay over the trainable tensors."""
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW(
        params, lr=TRAINING_ARGS["learning_rate"], betas=(TRAINING_ARGS["adam_beta1"], TRAINING_ARGS["adam_beta2"]),
        eps=TRAINING_ARGS["adam_epsilon"], weight_decay=TRAINING_ARGS["weight_decay"])


def main():
    parser = argparse.ArgumentParser(description="Train the exported adapter with transformers + peft.")
    parser.add_argument("--model", default=TRAINING_ARGS["model_name_or_path"],
                        help="the base model folder (config.json, model.safetensors, tokenizer.json)")
    parser.add_argument("--data", default=TRAINING_ARGS["data"], help="Alpaca records, .json or .jsonl")
    parser.add_argument("--output-dir", required=True, help="where save_pretrained writes the adapter")
    parser.add_argument("--max-steps", type=int, default=TRAINING_ARGS["max_steps"], help="optimizer steps")
    args = parser.parse_args()
    if not args.model or not args.data:
        parser.error("give --model (the base model folder) and --data (Alpaca records, .json or .jsonl)")
    steps = args.max_steps
    warmup = TRAINING_ARGS["warmup_steps"] if steps == TRAINING_ARGS["max_steps"] else max(1, steps // 10)

    torch.manual_seed(TRAINING_ARGS["seed"])
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=os.path.join(args.model, "tokenizer.json"))
    model = LlamaForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    eos_id = model.config.eos_token_id
    pad_id = eos_id if model.config.pad_token_id is None else model.config.pad_token_id
    peft_config = make_peft_config()
    positions = model.config.max_position_embeddings - (getattr(peft_config, "num_virtual_tokens", 0) or 0)
    model = get_peft_model(model, peft_config)
    model.print_trainable_parameters()

    examples = [encode(tokenizer, *alpaca_example(record), eos_id) for record in load_alpaca(args.data)]
    longest = max(len(ids) for ids, _ in examples)
    if longest > positions:
        raise SystemExit(f"{args.data}: an example has {longest} tokens but the model takes {positions} "
                         "(max_position_embeddings less the virtual tokens); shorten or drop it")
    train, held_out = split(examples, TRAINING_ARGS["seed"])
    optimizer = make_optimizer(model)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: lr_multiplier(i + 1, steps, warmup))
    trainable = [p for p in model.parameters() if p.requires_grad]
    draw = batches(train, TRAINING_ARGS["per_device_train_batch_size"], TRAINING_ARGS["seed"])
    model.train()
    for step in range(1, steps + 1):
        ids, labels, mask = collate(next(draw), pad_id)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, TRAINING_ARGS["max_grad_norm"])
        lr = optimizer.param_groups[0]["lr"]
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        if step == 1 or step % max(1, steps // 10) == 0 or step == steps:
            print(f"step {step}/{steps}  loss {loss.item():.4f}  lr {lr:.3g}")
    model.eval()
    loss = answer_loss(model, held_out, pad_id)
    print(f"validation answer loss {loss:.4f} on {len(held_out)} held-out records")
    model.save_pretrained(args.output_dir)
    record = dict(TRAINING_ARGS, model_name_or_path=args.model, data=args.data, data_format="alpaca",
                  max_steps=steps, warmup_steps=warmup)
    with open(os.path.join(args.output_dir, "training_args.json"), "w", encoding="utf-8") as f:
        json.dump(record, f, indent=2, sort_keys=True)
        f.write("\n")
    print(f"adapter -> {args.output_dir}")


if __name__ == "__main__":
    main()
