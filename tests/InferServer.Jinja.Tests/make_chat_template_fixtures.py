#!/usr/bin/env python3
"""Writes chat_template_fixtures.json: what the real jinja2 renders, in the environment Hugging Face transformers
builds for chat templates, for real models' templates over several conversations and for small templates that
exercise one construct each. The C# tests read the JSON; they never run Python.

    python3 make_chat_template_fixtures.py      # needs jinja2 (3.1.x); transformers itself is not needed

The environment mirrors transformers' utils/chat_template_utils.py _compile_jinja_template: an
ImmutableSandboxedEnvironment with trim_blocks and lstrip_blocks, the loopcontrols extension, a {% generation %}
tag that only renders its body, raise_exception and strftime_now globals, and tojson replaced by json.dumps with
ensure_ascii=False. The real templates are the .jinja files in ChatTemplates/, byte for byte as their models ship
them; TEMPLATES says where each was read.
"""
import json
import os
from datetime import datetime

import jinja2
from jinja2 import nodes
from jinja2.exceptions import TemplateError
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))


class Generation(Extension):
    """transformers' AssistantTracker without the tracking: {% generation %}body{% endgeneration %} renders body."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def raise_exception(message):
    raise TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(format):
    return datetime.now().strftime(format)


def environment():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[Generation, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


ENV = environment()

# Real templates: file in ChatTemplates/, the model that ships it, its special tokens, where the text was read.
LLAMA_CPP = "ye-NX/llama.cpp (a fork of ggml-org/llama.cpp) models/templates/{} @ b354d7c9ecb76c97c07098617cdebbdfffa2583e"
HF_JS = "huggingface/huggingface.js packages/jinja/test/e2e.test.js @ 029db6baefd46bedd8900dd2ba4aa1eb03a9ef3d, entry \"{}\""
MISTRAL_RS = "mistral.rs pipeline chat template tests (test_chat_templates), entry \"{}\""
TEMPLATES = [
    {"name": "llama-3.3-70b-instruct", "model": "meta-llama/Llama-3.3-70B-Instruct (same text as Llama-3.1-8B-Instruct)",
     "bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>",
     "source": LLAMA_CPP.format("meta-llama-Llama-3.3-70B-Instruct.jinja")},
    {"name": "llama-2-13b-chat-hf", "model": "meta-llama/Llama-2-13b-chat-hf", "bos_token": "<s>", "eos_token": "</s>",
     "source": MISTRAL_RS.format("meta-llama/Llama-2-13b-chat-hf")},
    {"name": "mistral-7b-instruct-v0.1", "model": "mistralai/Mistral-7B-Instruct-v0.1", "bos_token": "<s>", "eos_token": "</s>",
     "source": HF_JS.format("TheBloke/Mistral-7B-Instruct-v0.1-GPTQ")},
    {"name": "mistral-nemo-instruct-2407", "model": "mistralai/Mistral-Nemo-Instruct-2407", "bos_token": "<s>", "eos_token": "</s>",
     "source": LLAMA_CPP.format("mistralai-Mistral-Nemo-Instruct-2407.jinja")},
    {"name": "qwen3-0.6b", "model": "Qwen/Qwen3-0.6B (the dense Qwen3 models, Qwen3-8B too, ship this template)", "bos_token": None,
     "eos_token": "<|im_end|>", "source": LLAMA_CPP.format("Qwen-Qwen3-0.6B.jinja"),
     # apply_chat_template(..., enable_thinking=...) passes extra keyword arguments to the template as variables.
     "template_kwargs": [{"enable_thinking": True}, {"enable_thinking": False}]},
    {"name": "qwen2.5-7b-instruct", "model": "Qwen/Qwen2.5-7B-Instruct (the Qwen2.5 instruct models share it: Hermes <tool_call> tools)",
     "bos_token": None, "eos_token": "<|im_end|>",
     "source": "the chat_template of Qwen/Qwen2.5-7B-Instruct's tokenizer_config.json, as a public Python file quotes it verbatim (found by text search)"},
    {"name": "qwen1.5-72b-chat", "model": "Qwen/Qwen1.5-72B-Chat", "bos_token": None, "eos_token": "<|im_end|>",
     "source": HF_JS.format("Qwen/Qwen1.5-72B-Chat")},
    {"name": "zephyr-7b-beta", "model": "HuggingFaceH4/zephyr-7b-beta (also TinyLlama/TinyLlama-1.1B-Chat-v1.0)",
     "bos_token": "<s>", "eos_token": "</s>", "source": HF_JS.format("HuggingFaceH4/zephyr-7b-beta (add_generation_prompt=true)")},
    {"name": "gemma-2-2b-it", "model": "google/gemma-2-2b-it", "bos_token": "<bos>", "eos_token": "<eos>",
     "source": LLAMA_CPP.format("google-gemma-2-2b-it.jinja")},
    # Gemma 3 folds a system message into the first user turn (Gemma 2's template raises on it).
    {"name": "gemma-3-4b-it", "model": "google/gemma-3-4b-it (the Gemma 3 instruction-tuned models, gemma-3-1b-it to 27b-it, ship this template)",
     "bos_token": "<bos>", "eos_token": "<eos>",
     "source": "the chat_template of google/gemma-3-*-it's tokenizer_config.json as ShishirPatil/gorilla quotes it verbatim in "
               "berkeley-function-call-leaderboard/bfcl_eval/model_handler/local_inference/gemma.py @ 6199b2429cdcb943b1fddfbb6c5ce6dc39475113 "
               "(the same text as a second public test's \"gemma3 tokenizer_config chat template\", found by text search)"},
    {"name": "phi-3.5-mini-instruct", "model": "microsoft/Phi-3.5-mini-instruct", "bos_token": "<s>", "eos_token": "<|endoftext|>",
     "source": LLAMA_CPP.format("microsoft-Phi-3.5-mini-instruct.jinja")},
    {"name": "deepseek-llm-7b-chat", "model": "deepseek-ai/deepseek-llm-7b-chat",
     "bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>", "source": HF_JS.format("deepseek-ai/deepseek-llm-7b-chat")},
]


def message(role, content):
    return {"role": role, "content": content}


CONVERSATIONS = {
    "user": [message("user", "Hello!")],
    "system_user": [message("system", "You are a terse assistant."), message("user", "What is LoRA?")],
    "multi_turn": [message("user", "Hi"), message("assistant", "Hello, how can I help?"), message("user", "Tell me a joke.")],
    "system_multi_turn": [
        message("system", "  Answer in French.  "),
        message("user", "Good morning"),
        message("assistant", "   Bonjour !   "),
        message("user", "\nHow are you?\n"),
    ],
    "unicode": [message("user", "Grüße, 世界 👋 — ça va? \"quoted\" \\ back"), message("assistant", "Très bien ✓"), message("user", "¿Y tú? ∑")],
    "thinking_reply": [message("user", "2+2?"), message("assistant", "<think>\nadd them\n</think>\n\nIt is 4."), message("user", "And 3+3?")],
    "not_alternating": [message("user", "one"), message("user", "two")],
}

# Tool calling, as OpenAI's API sends it and vLLM hands it to apply_chat_template: tools in OpenAI's form, an
# assistant's tool_calls with arguments parsed to a dict (vLLM parses the JSON string first), and the tool's result
# with its tool_call_id. Ids are 9 alphanumerics, which Mistral's templates require.
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
                   "required": ["city"]}}}
TIME_TOOL = {"type": "function", "function": {"name": "get_time", "description": "Local time in a city",
                                              "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
WEATHER_CALL = {"id": "call0abc1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}}
TOOL_CONVERSATIONS = {
    "tools_offered": ([message("user", "Weather in Paris?")], [WEATHER_TOOL, TIME_TOOL]),
    "tools_system": ([message("system", "Use tools when they help."), message("user", "Weather in Paris?")], [WEATHER_TOOL]),
    "tool_round_trip": ([
        message("user", "Weather in Paris?"),
        {"role": "assistant", "content": "", "tool_calls": [WEATHER_CALL]},
        {"role": "tool", "tool_call_id": "call0abc1", "content": '{"temperature": 21, "sky": "clear"}'},
    ], [WEATHER_TOOL]),
    "tool_answered": ([
        message("user", "Weather in Paris?"),
        {"role": "assistant", "content": "", "tool_calls": [WEATHER_CALL]},
        {"role": "tool", "tool_call_id": "call0abc1", "content": '{"temperature": 21, "sky": "clear"}'},
        message("assistant", "It is 21 °C and clear in Paris."),
        message("user", "Thanks!"),
    ], [WEATHER_TOOL]),
}

# Small templates, one construct each: (name, template, variables).
CONSTRUCTS = [
    ("text only", "plain text\n", {}),
    ("output", "a{{ x }}b", {"x": "X"}),
    ("undefined prints nothing", "[{{ missing }}]", {}),
    ("none true false", "{{ none }} {{ true }} {{ false }} {{ None }} {{ True }}", {}),
    ("integers", "{{ 1 + 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 * 3 - 1 }} {{ -4 }} {{ 2 ** 10 }}", {}),
    ("floats", "{{ 1.5 + 1 }} {{ 1 / 2 }} {{ 4 / 2 }} {{ 1e20 }} {{ 0.0001 }} {{ 1e-5 }} {{ 0.1 + 0.2 }} {{ 1e16 }} {{ 123456789012345.0 }}", {}),
    ("string escapes", "{{ 'a\\nb\\t\"c\"' }}|{{ \"it's\" }}|{{ '\\u00e9\\x41' }}", {}),
    ("adjacent strings", "{{ 'a' 'b' \"c\" }}", {}),
    ("comment", "a{# gone #}b\n{# whole line #}\nc", {}),
    ("trim_blocks", "{% if true %}\nx\n{% endif %}\ny", {}),
    ("lstrip_blocks", "a\n    {% if true %}\n    b\n    {% endif %}\nc", {}),
    ("lstrip_blocks leaves output tags", "a\n    {{ 'b' }}\n  c", {}),
    ("lstrip_blocks only at line start", "a  {% if true %}b{% endif %}", {}),
    ("minus trims", "a   {{- 'b' -}}   c  {%- if true -%}  d  {%- endif %}\n\n e", {}),
    ("plus keeps", "a\n  {%+ if true %}b{% endif +%}\nc", {}),
    ("comment whitespace control", "a  {#- c -#}  b\n  {# d #}\ne", {}),
    ("final newline dropped", "x\n", {}),
    ("only one final newline dropped", "x\n\n", {}),
    ("crlf newlines", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc", {}),
    ("raw", "{% raw %}{{ not evaluated }}{% endraw %}", {}),
    ("if elif else", "{% for n in [1, 2, 3] %}{% if n == 1 %}one{% elif n == 2 %}two{% else %}many{% endif %},{% endfor %}", {}),
    ("loop variables", "{% for x in items %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}", {"items": ["a", "b", "c"]}),
    ("loop previtem nextitem", "{% for x in [1, 2, 3] %}{{ loop.previtem }}-{{ loop.nextitem }},{% endfor %}", {}),
    ("loop cycle", "{% for x in [1, 2, 3] %}{{ loop.cycle('a', 'b') }}{% endfor %}", {}),
    ("for else", "{% for x in [] %}x{% else %}empty{% endfor %}", {}),
    ("for over undefined", "[{% for x in missing %}x{% endfor %}]", {}),
    ("for with a condition", "{% for x in [1, 2, 3, 4] if x % 2 == 0 %}{{ loop.index }}:{{ x }}{% if not loop.last %},{% endif %}{% endfor %}", {}),
    ("for over dict items", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", {"d": {"x": 1, "y": "z"}}),
    ("for over a dict", "{% for k in d %}{{ k }}{% endfor %}", {"d": {"b": 1, "a": 2}}),
    ("for over a string", "{% for c in 'héllo' %}{{ c }}.{% endfor %}", {}),
    ("for over reversed", "{% for m in xs[::-1] %}{{ m }}{% endfor %}", {"xs": [1, 2, 3]}),
    ("break continue", "{% for n in [1, 2, 3, 4, 5] %}{% if n == 2 %}{% continue %}{% endif %}{% if n == 4 %}{% break %}{% endif %}{{ n }}{% endfor %}", {}),
    ("nested loops", "{% for a in [1, 2] %}{% for b in ['x', 'y'] %}{{ a }}{{ b }}{{ loop.index }}{% endfor %}{{ loop.index }} {% endfor %}", {}),
    ("set and loop scope", "{% set a = 1 %}{% for x in [1, 2] %}{{ a }}{% set a = a + 10 %}{{ a }},{% endfor %}{{ a }}", {}),
    ("set in if leaks", "{% if true %}{% set b = 3 %}{% endif %}{{ b }}", {}),
    ("set tuple", "{% set a, b = 1, 2 %}{{ a }}{{ b }}", {}),
    ("block set", "{% set text %}\n  inner {{ 1 + 1 }}\n{% endset %}[{{ text }}]", {}),
    ("block set with a filter", "{% set text | upper | trim %}  hi  {% endset %}[{{ text }}]", {}),
    ("namespace", "{% set ns = namespace(total=0, seen=false) %}{% for x in [1, 2, 3] %}{% set ns.total = ns.total + x %}{% if x == 2 %}{% set ns.seen = true %}{% endif %}{% endfor %}{{ ns.total }} {{ ns.seen }}", {}),
    ("namespace attribute added", "{% set ns = namespace() %}{% set ns.a = 'x' %}{{ ns.a }}", {}),
    ("macro", "{% macro greet(name, punctuation='!') %}Hi {{ name }}{{ punctuation }}{% endmacro %}{{ greet('Ann') }} {{ greet('Bob', punctuation='?') }} {{ greet('Cy', '.') }}", {}),
    ("macro missing argument is undefined", "{% macro f(a, b) %}[{{ a }}|{{ b }}]{% endmacro %}{{ f(1) }}", {}),
    ("call block", "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}bold{% endcall %}", {}),
    ("filter block", "{% filter upper %}shout {{ 'this' }}{% endfilter %}", {}),
    ("with block", "{% with a = 1, b = 'x' %}{{ a }}{{ b }}{% endwith %}[{{ a }}]", {}),
    ("generation block", "{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{% endgeneration %}{% else %}{{ m.content }}{% endif %}|{% endfor %}", {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}),
    ("comparisons", "{{ 1 < 2 }}{{ 2 <= 1 }}{{ 'a' == 'a' }}{{ 'a' != 'a' }}{{ 3 > 2 }}{{ 1 >= 1 }}{{ 1 < 2 < 3 }}{{ 1 == 1.0 }}{{ true == 1 }}", {}),
    ("logic", "{{ true and false }}{{ true or false }}{{ not true }}{{ not (1 == 2) }}{{ 0 or 'x' }}{{ 'y' and 0 }}{{ none or [] }}", {}),
    ("in", "{{ 'b' in 'abc' }}{{ 2 in [1, 2] }}{{ 'k' in d }}{{ 'q' not in d }}{{ 'tool_calls' in m }}", {"d": {"k": 1}, "m": {"role": "user"}}),
    ("conditional expression", "{{ 'yes' if flag else 'no' }}[{{ 'a' if false }}]{{ ('a' if false) is defined }}", {"flag": True}),
    ("concat operator", "{{ 'n=' ~ 3 ~ true ~ none ~ missing }}", {}),
    ("plus on lists", "{{ [1] + [2, 3] }}", {}),
    ("string repetition", "{{ '-' * 3 }}{{ 2 * 'ab' }}", {}),
    ("subscript", "{{ xs[0] }}{{ xs[-1] }}{{ d['k'] }}{{ d.k }}{{ xs.1 }}{{ 'hello'[1] }}[{{ xs[10] }}][{{ d['missing'] }}]", {"xs": [1, 2, 3], "d": {"k": "v"}}),
    ("slices", "{{ xs[1:] }}{{ xs[:2] }}{{ xs[::-1] }}{{ xs[::2] }}{{ xs[1::2] }}{{ xs[-1:0:-1] }}{{ xs[:-2:-1] }}{{ 'abc'[::-1] }}{{ 'hello'[1:3] }}{{ xs[10:] }}", {"xs": [1, 2, 3, 4, 5]}),
    ("printing collections", "{{ [1, 'a', none, true, 1.5, {'k': [2]}] }} {{ (1, 'b') }} {{ (1,) }} {{ {'it\\'s': \"x\"} }}", {}),
    ("dict methods", "{{ d.get('k') }}{{ d.get('q', 'dflt') }}{{ d.get('q') }}{{ d.keys() | list }}{{ d.values() | list }}{{ d.items() | list }}", {"d": {"k": "v", "n": 1}}),
    ("string methods", "{{ ' x '.strip() }}|{{ 'abc'.startswith('ab') }}{{ 'abc'.endswith('x') }}{{ 'abc'.startswith(('x', 'a')) }}|{{ 'ab'.upper() }}{{ 'AB'.lower() }}|{{ \"hello wORLD they're\".title() }}|{{ 'hELLO'.capitalize() }}|{{ ' x '.lstrip() }}|{{ ' x '.rstrip() }}|{{ 'aXbXc'.replace('X', '-') }}{{ 'aXbXc'.replace('X', '-', 1) }}|{{ 'abcb'.find('b') }}{{ 'abcb'.rfind('b') }}{{ 'abcb'.count('b') }}|{{ '-'.join(['a', 'b']) }}", {}),
    ("strip characters", "[{{ '\\n\\nx\\n'.strip('\\n') }}][{{ 'xxay'.lstrip('x') }}][{{ 'ayyx'.rstrip('xy') }}][{{ ' a '.strip(none) }}]", {}),
    ("split", "{{ 'a<b>c<b>'.split('<b>') }}{{ ' a  b '.split() }}{{ 'x'.split(',') }}{{ 'r</think>a'.split('</think>')[-1] }}{{ 'a,b,c'.split(',', 1) }}{{ 'a,b,c'.rsplit(',', 1) }}{{ 'l1\\nl2\\r\\nl3'.splitlines() }}", {}),
    ("filters on text", "{{ '  x  ' | trim }}|{{ 'xxhixx' | trim('x') }}|{{ 'Ab' | upper }}{{ 'Ab' | lower }}|{{ 'hello wORLD-x(y' | title }}|{{ 'hELLO world' | capitalize }}|{{ 'aaa' | replace('a', 'b', 2) }}|{{ 'x' | safe }}|{{ '<a & \"b\">' | e }}", {}),
    ("filters on lists", "{{ xs | length }}{{ xs | count }}|{{ xs | join('-') }}|{{ xs | join }}|{{ xs | first }}{{ xs | last }}|{{ xs | reverse | list }}|{{ 'abc' | reverse }}|{{ [3, 1, 2] | sort }}{{ ['b', 'A', 'c'] | sort }}{{ [3, 1, 2] | sort(reverse=true) }}|{{ [1, 'a', 'A', 1] | unique | list }}|{{ [1, 2, 3] | sum }}{{ [3, 1] | min }}{{ [3, 1] | max }}", {"xs": [1, 2, 3]}),
    ("default", "{{ missing | default('d') }}{{ missing | d('e') }}{{ '' | default('f') }}{{ '' | default('g', true) }}{{ none | default('h') }}", {}),
    ("conversions", "{{ 5 | string }}{{ '42' | int + 1 }}{{ '4.5' | float }}{{ 'x' | int }}{{ 3.9 | int }}{{ '0x1A' | int(0, 16) }}{{ 2 | float }}{{ -3 | abs }}{{ 2.567 | round(2) }}{{ 2.5 | round }}{{ 'ab' | list }}{{ none | string }}", {}),
    ("items and dictsort", "{{ d | items | list }}{% for k, v in d | dictsort %}{{ k }}{{ v }}{% endfor %}", {"d": {"b": 1, "a": 2}}),
    ("indent", "[{{ 'a\\nb\\n\\nc' | indent }}][{{ 'a\\nb' | indent(2, true) }}][{{ 'a\\n\\nb' | indent(width='> ', blank=true) }}]", {}),
    ("map", "{{ ms | map(attribute='role') | join(',') }}|{{ ['a', 'b'] | map('upper') | list }}|{{ ms | map(attribute='x', default='?') | list }}", {"ms": [{"role": "user"}, {"role": "assistant"}]}),
    ("selectattr and rejectattr", "{{ ms | selectattr('role', 'equalto', 'user') | list | length }}|{{ (ms | selectattr('role', 'equalto', 'user') | list)[-1].content }}|{{ ms | rejectattr('role', 'equalto', 'user') | map(attribute='content') | join }}|{{ ms | selectattr('tool_calls', 'defined') | list | length }}|{{ ms | selectattr('content') | list | length }}", {"ms": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "", "tool_calls": []}, {"role": "user", "content": "c"}]}),
    ("select and reject", "{{ [1, 2, 3, 4] | select('odd') | list }}{{ [1, 2, 3, 4] | reject('even') | list }}{{ ['a', 'code_interpreter', 'b'] | reject('equalto', 'code_interpreter') | join(', ') }}{{ [0, 1, '', 'x'] | select | list }}", {}),
    ("tojson", "{{ {'a': [1, 'x', none, true, 1.5], 'é': 'ü\\n\"q\"'} | tojson }}", {}),
    ("tojson indented", "{{ {'b': [1, {'c': 'x'}], 'a': {}, 'e': []} | tojson(indent=4) }}", {}),
    ("tojson of a tool", "{{ tool | tojson(indent=2) }}|{{ tool | tojson }}", {"tool": {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}}, "required": ["city"]}}}}),
    ("tojson options", "{{ d | tojson(sort_keys=true) }}{{ d | tojson(ensure_ascii=true) }}{{ d | tojson(separators=[',', ':']) }}", {"d": {"z": "é😀", "a": [1, 2]}}),
    ("tests", "{{ x is defined }}{{ y is defined }}{{ y is undefined }}{{ y is not defined }}{{ n is none }}{{ s is string }}{{ d is mapping }}{{ xs is iterable }}{{ s is iterable }}{{ 3 is iterable }}{{ xs is sequence }}{{ 1 is number }}{{ 1.5 is number }}{{ true is boolean }}{{ 1 is boolean }}{{ true is true }}{{ 0 is false }}{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby(3) }}{{ 9 is divisibleby 4 }}{{ 'a' is equalto 'a' }}{{ 1 is integer }}{{ 1.0 is float }}{{ f is callable }}", {"x": 1, "n": None, "s": "s", "d": {}, "xs": [1], "f": None}),
    ("undefined tests", "{{ missing is iterable }}{{ missing is sequence }}{{ missing is none }}{{ missing | length }}{{ missing | list }}[{{ missing | string }}][{{ missing | trim }}]", {}),
    ("range", "{% for i in range(3) %}{{ i }}{% endfor %}{{ range(1, 8, 3) | list }}{{ range(3, -1, -1) | list }}{{ range(0, 3, -1) | list }}", {}),
    ("dict global", "{{ dict(a=1, b='x') }}", {}),
    ("attribute of undefined content is undefined", "{{ m.tool_calls is defined }}{{ m['tool_calls'] is defined }}{{ m.content.startswith('h') }}", {"m": {"role": "user", "content": "hi"}}),
    ("none attribute is undefined", "{{ n.x is defined }}", {"n": None}),
    ("unicode length and index", "{{ s | length }}{{ s[1] }}{{ s[-1] }}{{ s[::-1] }}", {"s": "a😀é"}),
    ("operator precedence", "{{ 1 + 2 * 3 }}{{ (1 + 2) * 3 }}{{ 2 ** 3 ** 2 }}{{ -2 ** 2 }}{{ 'a' + ' b ' | trim + 'c' }}{{ not 1 == 2 }}{{ 1 ~ 2 * 3 }}", {}),
    ("filter binds to the nearest operand", "{{ '<' + m['content'] | trim + '>' }}", {"m": {"content": "  x  "}}),
    ("messages content reassigned", "{% set messages = messages[1:] %}{{ messages | length }}", {"messages": [1, 2, 3]}),
    # Errors: rendering fails in jinja2; the C# renderer must fail too (raise_exception with the same message).
    ("raise_exception", "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}", {}),
    ("raise_exception in a loop", "{% for m in ms %}{% if m == 2 %}{{ raise_exception('bad item ' ~ m) }}{% endif %}{{ m }}{% endfor %}", {"ms": [1, 2]}),
    ("attribute of undefined", "{{ missing.attribute }}", {}),
    ("nested undefined attribute", "{{ d.y.z }}", {"d": {}}),
    ("call of undefined", "{{ missing() }}", {}),
    ("add string and int", "{{ 'a' + 1 }}", {}),
    ("iterate none", "{% for x in none %}{% endfor %}", {}),
    ("set attribute of a dict", "{% set d = {} %}{% set d.a = 1 %}", {}),
    ("list append is unsafe", "{% set xs = [] %}{{ xs.append(1) }}", {}),
    ("division by zero", "{{ 1 // 0 }}", {}),
    ("compare string and int", "{{ 'a' < 1 }}", {}),
    ("unpack mismatch", "{% for a, b in [[1, 2, 3]] %}{% endfor %}", {}),
]


def render(template, variables):
    try:
        return {"expected": ENV.from_string(template).render(**variables)}
    except TemplateError as error:
        kind = "raised" if type(error) is TemplateError else type(error).__name__
        return {"error": kind, "message": str(error)}
    except Exception as error:  # TypeError, ZeroDivisionError, …: a runtime failure for the C# renderer too
        return {"error": type(error).__name__, "message": str(error)}


def main():
    templates = []
    cases = []
    for entry in TEMPLATES:
        with open(os.path.join(HERE, "ChatTemplates", entry["name"] + ".jinja"), encoding="utf-8", newline="") as handle:
            source = handle.read()
        templates.append({key: value for key, value in entry.items() if key != "template_kwargs"} | {"template": source})
        for kwargs in [{}] + entry.get("template_kwargs", []):
            for conversation, messages in CONVERSATIONS.items():
                for add_generation_prompt in (True, False):
                    # apply_chat_template passes tools and documents as None when the caller gives none.
                    variables = {"messages": messages, "tools": None, "documents": None, "add_generation_prompt": add_generation_prompt}
                    if entry["bos_token"] is not None:
                        variables["bos_token"] = entry["bos_token"]
                    if entry["eos_token"] is not None:
                        variables["eos_token"] = entry["eos_token"]
                    variables.update(kwargs)
                    cases.append({"template": entry["name"], "conversation": conversation, "variables": variables,
                                  **render(source, variables)})
            for conversation, (messages, tools) in TOOL_CONVERSATIONS.items():
                variables = {"messages": messages, "tools": tools, "documents": None, "add_generation_prompt": True}
                if entry["bos_token"] is not None:
                    variables["bos_token"] = entry["bos_token"]
                if entry["eos_token"] is not None:
                    variables["eos_token"] = entry["eos_token"]
                variables.update(kwargs)
                cases.append({"template": entry["name"], "conversation": conversation, "variables": variables,
                              **render(source, variables)})
    constructs = [{"name": name, "template": template, "variables": variables, **render(template, variables)}
                  for name, template, variables in CONSTRUCTS]
    fixture = {
        "generator": "make_chat_template_fixtures.py",
        "jinja2_version": jinja2.__version__,
        "templates": templates,
        "cases": cases,
        "constructs": constructs,
    }
    with open(os.path.join(HERE, "chat_template_fixtures.json"), "w", encoding="utf-8", newline="\n") as handle:
        json.dump(fixture, handle, ensure_ascii=False, indent=1)
        handle.write("\n")
    raised = sum(1 for case in cases if case.get("error") == "raised")
    print(f"{len(templates)} templates, {len(cases)} cases ({raised} refused by raise_exception), {len(constructs)} constructs")


if __name__ == "__main__":
    main()
