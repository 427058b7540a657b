#!/usr/bin/env python3
"""Builds the chat-template conformance fixture used by the scheduler's Java tests.

Renders a handful of chat templates over a few conversations with Hugging Face transformers'
``apply_chat_template(messages, chat_template=..., tokenize=False, add_generation_prompt=...)`` and records the
text (or the message of the exception a template raises) into
``scheduler/src/test/resources/chat-templates/golden.json``. ``ChatTemplateConformanceTest`` renders the same
cases with Tessera's ``ChatTemplate`` (Jinjava) and expects the same text, character for character.

The templates are Tessera's built-in one (it must equal ``BuiltinModels.CHAT_TEMPLATE``; the Java test checks)
and templates written here in the styles of published model families (ChatML with a default system prompt,
Llama 3, Llama 2 with ``<<SYS>>``, Mistral ``[INST]``, Gemma, Zephyr) plus one that exercises the Python-isms
templates use (``namespace``, ``is string``, ``str.startswith``/``split``/``upper``/``lstrip``, string indexing, ``tojson``,
``selectattr``, ``dict.items``, slicing, ``loop.last``). Nothing is downloaded: the tokenizer is a three-token
word-level tokenizer built here, which ``apply_chat_template(tokenize=False)`` never uses beyond its special
tokens.

Regenerate with::

    python3 -m pip install "transformers==5.24.*" tokenizers jinja2
    python3 tools/make_chat_template_fixtures.py

The Java build never runs this script; it only reads the committed fixture.
"""

from __future__ import annotations

import json
from pathlib import Path

import transformers
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from transformers import PreTrainedTokenizerFast

OUT = Path(__file__).resolve().parent.parent / "scheduler/src/test/resources/chat-templates/golden.json"

BUILTIN = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)

TEMPLATES = {
    "builtin": BUILTIN,
    "chatml": (
        "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
        "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
        "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
    ),
    "llama3": (
        "{% set loop_messages = messages %}{% for message in loop_messages %}"
        "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
        "+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
        "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
    ),
    "llama2": (
        "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
        "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
        "{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
        "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
        "{% if loop.index0 == 0 and system_message != false %}"
        "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
        "{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}"
        "{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
        "{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"
    ),
    "mistral": (
        "{{ bos_token }}{% for message in messages %}"
        "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
        "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
        "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
        "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"
    ),
    "gemma": (
        "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
        "{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
        "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}"
        "{% set role = message['role'] %}{% endif %}"
        "{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}"
    ),
    "zephyr": (
        "{% for message in messages %}\n"
        "{% if message['role'] == 'user' %}\n"
        "{{ '<|user|>\\n' + message['content'] + eos_token }}\n"
        "{% elif message['role'] == 'system' %}\n"
        "{{ '<|system|>\\n' + message['content'] + eos_token }}\n"
        "{% elif message['role'] == 'assistant' %}\n"
        "{{ '<|assistant|>\\n'  + message['content'] + eos_token }}\n"
        "{% endif %}\n"
        "{% if loop.last and add_generation_prompt %}\n"
        "{{ '<|assistant|>' }}\n"
        "{% endif %}\n"
        "{% endfor %}"
    ),
    "pyish": (
        "{%- set ns = namespace(last_user=-1, turns=0) %}\n"
        "{%- for message in messages %}\n"
        "    {%- if message.role == 'user' %}{% set ns.last_user = loop.index0 %}{% endif %}\n"
        "    {%- set ns.turns = ns.turns + 1 %}\n"
        "{%- endfor %}\n"
        "{{- '# ' ~ ns.turns ~ ' turns, ' ~ (messages | selectattr('role', 'equalto', 'user') | list | length)"
        " ~ ' from the user\\n' }}\n"
        "{%- for message in messages %}\n"
        "    {%- if message.content is string %}{% set content = message.content %}{% else %}"
        "{% set content = '' %}{% endif %}\n"
        "    {%- if content.startswith('!') %}{% set content = content.lstrip('!') %}{% endif %}\n"
        "    {%- if '</think>' in content %}{% set content = content.split('</think>')[-1].lstrip('\\n') %}"
        "{% endif %}\n"
        "    {{- '<|' + message.role.upper() + '|>' }}\n"
        "    {%- if loop.first %}{{- ' (' + message.role[0] + message.role[-1] + ')' }}{% endif %}\n"
        "    {%- if message.name is defined %}{{- ' (' + message.name + ')' }}{% endif %}\n"
        "    {{- '\\n' + content.strip() }}\n"
        "    {%- if loop.index0 == ns.last_user %}{{- ' [last user turn]' }}{% endif %}\n"
        "    {%- if content.endswith('?') %}{{- ' [question]' }}{% endif %}\n"
        "    {{- '\\n' }}\n"
        "{%- endfor %}\n"
        "{{- 'meta: ' + (messages[-1] | tojson) + '\\n' }}\n"
        "{%- for key, value in messages[0].items() %}{{- key + '=' + value|string + ';' }}{% endfor %}\n"
        "{{- '\\nwords: ' + messages[0].content.split() | join(',') + '\\n' }}\n"
        "{%- if add_generation_prompt and not loop_messages is defined %}{{- '<|ASSISTANT|>\\n' }}{% endif %}"
    ),
}

CONVERSATIONS = {
    "single": [{"role": "user", "content": "Hello!"}],
    "multi": [
        {"role": "system", "content": "  You are terse. "},
        {"role": "user", "content": "What's \"2+2\"? Use <b>bold</b>\nand a new line."},
        {"role": "assistant", "content": "<think>easy</think>\n\n**4**"},
        {"role": "user", "content": "Merci, ça va ? 日本語 🙂"},
    ],
    "no-system": [
        {"role": "user", "content": "!Shout this"},
        {"role": "assistant", "content": "OK"},
    ],
    "named": [
        {"role": "user", "content": "Hi there from a named user", "name": "alice"},
    ],
    "bad-order": [
        {"role": "user", "content": "one"},
        {"role": "user", "content": "two"},
    ],
}


def main() -> None:
    backend = Tokenizer(WordLevel({"<unk>": 0, "<s>": 1, "</s>": 2}, unk_token="<unk>"))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>",
                                        unk_token="<unk>")
    cases = []
    for template_name, template in TEMPLATES.items():
        for conversation_name, messages in CONVERSATIONS.items():
            for generation_prompt in (True, False):
                case = {"template": template_name, "conversation": conversation_name,
                        "add_generation_prompt": generation_prompt}
                try:
                    case["expected"] = tokenizer.apply_chat_template(
                        messages, chat_template=template, tokenize=False, add_generation_prompt=generation_prompt)
                except Exception as e:  # the template's raise_exception (jinja2 TemplateError)
                    case["raises"] = str(e)
                cases.append(case)
    golden = {"transformers": transformers.__version__, "bos_token": "<s>", "eos_token": "</s>",
              "templates": TEMPLATES, "conversations": CONVERSATIONS, "cases": cases}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(golden, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    raised = sum(1 for c in cases if "raises" in c)
    print(f"wrote {OUT} ({len(cases)} cases, {raised} raising)")


if __name__ == "__main__":
    main()
