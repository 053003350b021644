"""Build a tiny random Qwen2 chat model for the vLLM tests: run with the vLLM virtualenv's Python, DIR as argument.

Two layers, hidden size 64, a byte-level BPE tokenizer trained here on the prompt templates, and a ChatML chat
template. The weights are random except for one embedding dimension that is constant, which the output head reads
to favour the end-of-turn token and the JSON quote: answers stay short, so tests finish before max_tokens.
"""

from __future__ import annotations

import sys
from pathlib import Path

CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] "
          "+ '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
          "{% endif %}")
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def corpus() -> list[str]:
    """Text to train the tokenizer on: our prompts and taxonomy, plus some code, so prompts tokenize compactly."""
    prompts = Path(__file__).resolve().parent.parent / "prompts"
    texts = [p.read_text() for p in sorted(prompts.rglob("*.yaml"))]
    texts.append("def add(a, b):\n    return a + b\nfor i in range(10):\n    print(i)\n{\"key\": [1, 2, 3]}\n" * 20)
    return texts


def main(out: str) -> None:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1024, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus(), trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   additional_special_tokens=["<|im_start|>"])
    fast.chat_template = CHATML
    fast.save_pretrained(out)

    eos = fast.convert_tokens_to_ids("<|im_end|>")
    vocab = ((len(fast) + 63) // 64) * 64
    config = Qwen2Config(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=4096,
                         eos_token_id=eos, bos_token_id=eos, pad_token_id=fast.pad_token_id,
                         tie_word_embeddings=False, torch_dtype="float32")
    model = Qwen2ForCausalLM(config)
    with torch.no_grad():
        model.model.embed_tokens.weight[:, 0] = 10.0  # a constant direction the final norm keeps near sqrt(64)
        model.lm_head.weight[:, 0] = 0.0
        favoured = [eos] + [i for t, i in fast.get_vocab().items() if t in ('"', '",', '"}', '"]')]
        model.lm_head.weight[favoured, 0] = 0.4  # logit ~3 over ~0 for the rest: P(end of turn or string) ~ 5%
    model.generation_config.eos_token_id = eos
    model.save_pretrained(out, safe_serialization=True)
    print(f"tiny Qwen2 written to {out}: vocab {vocab}, eos {eos}")


if __name__ == "__main__":
    main(sys.argv[1])
