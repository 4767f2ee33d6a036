#!/usr/bin/env bash
# ms-swift: the lora run of `peft train` (/adapters/lora), written by `peft export --to swift`.
# Every option exists in ms-swift 4.6.0 (PyPI); they are documented at
#   https://swift.readthedocs.io/en/latest/Instruction/Command-line-parameters.html (ms-swift 4 renamed --train_type
#   to --tuner_type).
# ms-swift's command is also called `swift`: run this where ms-swift's comes first on PATH (its virtual environment),
#   not the Swift toolchain's.
#
# What differs from the Swift run:
# - the prompt layout: template default writes a system line, then "### Human:\n...\n\n### Assistant:\n" around the
#   instruction and input; peft train writes "Instruction: ...\nInput: ...\nResponse:". With a chat model, leave
#   --template out and ms-swift uses the model's own.
# - model_type llama tells ms-swift which family a local folder is; a hub model needs no model_type.
# - the schedule runs one step behind: transformers' first step has learning rate 0, peft train's has learning_rate /
#   warmup_steps. ms-swift's own defaults differ from peft train's (weight_decay 0.1, gradient accumulation to 16
#   examples), so they are set here.
# - PyTorch draws the initialisation, the validation split and the batches.
set -euo pipefail
swift sft \
    --model /models/small-corpus2 \
    --model_type llama \
    --template default \
    --torch_dtype float32 \
    --tuner_type lora \
    --lora_rank 8 \
    --lora_alpha 16 \
    --lora_dropout 0.0 \
    --target_modules q_proj v_proj \
    --use_rslora false \
    --use_dora false \
    --init_weights true \
    --dataset /data/alpaca.jsonl \
    --split_dataset_ratio 0.1 \
    --data_seed 0 \
    --max_length 128 \
    --max_steps 300 \
    --per_device_train_batch_size 16 \
    --gradient_accumulation_steps 1 \
    --learning_rate 0.002 \
    --lr_scheduler_type cosine \
    --warmup_steps 30 \
    --max_grad_norm 1.0 \
    --optim adamw_torch \
    --adam_beta1 0.9 \
    --adam_beta2 0.999 \
    --adam_epsilon 1e-08 \
    --weight_decay 0.0 \
    --seed 0 \
    --logging_steps 30 \
    --eval_steps 300 \
    --save_steps 300 \
    --output_dir output/lora
