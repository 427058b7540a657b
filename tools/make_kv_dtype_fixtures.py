"""Fixtures for the KV cache's rounding: floats and their torch bfloat16 / float16 bit patterns, and int8 vectors.

torch's `.to(torch.bfloat16)` and `.to(torch.float16)` round to nearest, ties to even, and are what the KV cache's
writes must equal (kv-cache's HalfFloat, checked by HalfFloatTest). The values cover ties (exactly half an ulp,
odd and even), values just off a tie, the largest finite values and the overflow to infinity, fp16 subnormals and
underflow, signed zeros, infinities, NaN, and random floats over the whole exponent range.

The int8 cache quantizes each (token, KV head) vector symmetrically with one fp32 scale: in torch,
`scale = x.abs().amax() / 127`, `codes = torch.round(x / scale).clamp(-127, 127)` (round: ties to even), a zero
vector getting scale 0 and codes 0 (torch would divide 0 by 0). kv-cache's SymmetricInt8 must equal it bit for bit
(Int8QuantizationTest). The vectors cover exact ties (scale 1 and 2, so x / scale lands on .5), a lone outlier, the
zero vector, tiny and huge magnitudes, and random K/V-like vectors of head sizes 20, 64 and 128.

Run: python3 tools/make_kv_dtype_fixtures.py  (writes kv-cache/src/test/resources/half-float-rounding.txt and
int8-kv-quantization.txt)
"""
import os
import struct

import torch


def f32_from_bits(b):
    return struct.unpack("<f", struct.pack("<I", b & 0xFFFFFFFF))[0]


def main():
    bits = set()
    # bfloat16 ties: the low 16 bits exactly 0x8000, with the kept lsb even and odd, and one bit either side
    for hi in (0x3F80, 0x3F81, 0x4049, 0x404A, 0xC2F7, 0x7F7F, 0x0001, 0x0080, 0x8080):
        for lo in (0x7FFF, 0x8000, 0x8001, 0x0000, 0xFFFF):
            bits.add((hi << 16) | lo)
    # float16 ties: 13 dropped mantissa bits exactly 0x1000, around normal and subnormal values
    for base in (0x3F800000, 0x3F802000, 0x477FE000, 0x38800000, 0x38802000, 0x33800000, 0x33000000, 0x387FC000,
                 0x35000000, 0xBF806000):
        for delta in (-1, 0, 1, 0x0FFF, 0x1000, 0x1001):
            bits.add(base + delta)
    specials = [0.0, -0.0, 1.0, -1.0, 65504.0, 65519.0, 65520.0, 65536.0, -65520.0, 1e-8, 2.0 ** -24, 2.0 ** -25,
                3 * 2.0 ** -26, 2.0 ** -14, 2.0 ** -15, 6.1e-5, 3.4e38, -3.4e38, 1e-40, -1e-45,
                float("inf"), float("-inf")]
    for v in specials:
        bits.add(struct.unpack("<I", struct.pack("<f", v))[0])
    g = torch.Generator().manual_seed(20261201)
    for b in torch.randint(0, 2 ** 32, (400,), generator=g, dtype=torch.int64).tolist():
        if (b >> 23) & 0xFF != 0xFF:  # NaNs are checked apart: their payloads are not compared
            bits.add(b)
    # values of the size K/V rows have: normal around 1, scaled
    for v in (torch.randn(300, generator=g) * torch.logspace(-6, 4, 300)).tolist():
        bits.add(struct.unpack("<I", struct.pack("<f", v))[0])
    ordered = sorted(bits)
    x = torch.tensor([f32_from_bits(b) for b in ordered], dtype=torch.float32)
    bf16 = x.to(torch.bfloat16).view(torch.int16).to(torch.int32).bitwise_and(0xFFFF).tolist()
    fp16 = x.to(torch.float16).view(torch.int16).to(torch.int32).bitwise_and(0xFFFF).tolist()
    path = os.path.join(os.path.dirname(__file__), "..", "kv-cache", "src", "test", "resources",
                        "half-float-rounding.txt")
    with open(path, "w") as f:
        f.write(f"# made by tools/make_kv_dtype_fixtures.py with torch {torch.__version__}\n")
        f.write("# float32 bits, torch bfloat16 bits, torch float16 bits (hex)\n")
        for b, h, e in zip(ordered, bf16, fp16):
            f.write(f"{b:08x} {h:04x} {e:04x}\n")
    print(f"{len(ordered)} values -> {os.path.normpath(path)}")
    int8_vectors()


def f32_bits(v):
    return struct.unpack("<I", struct.pack("<f", v))[0]


def int8_vectors():
    vectors = [
        # scale exactly 1: every x.5 is a tie (even: 0, 2, -2, 126), plus values just off a tie
        [127.0, 0.5, 1.5, 2.5, -0.5, -2.5, 126.5, 3.4999998, -3.5000002, 0.0, -0.0, 64.0],
        # scale exactly 2: 1, 3, 5 are ties after the division
        [-254.0, 1.0, 3.0, 5.0, -7.0, 253.0, 2.0, 0.25],
        [1000.0] + [0.001 * (i + 1) for i in range(15)],  # a lone outlier: the rest quantize to 0
        [0.0] * 16,  # the zero vector
        [1e-30 * (i - 7) for i in range(16)],
        [3e30 * (i - 7) for i in range(16)],
    ]
    g = torch.Generator().manual_seed(20261202)
    for d in (20, 64, 128):
        for size in (1e-3, 1.0, 30.0):
            vectors.append((torch.randn(d, generator=g) * size).tolist())
    path = os.path.join(os.path.dirname(__file__), "..", "kv-cache", "src", "test", "resources",
                        "int8-kv-quantization.txt")
    with open(path, "w") as f:
        f.write(f"# made by tools/make_kv_dtype_fixtures.py with torch {torch.__version__}\n")
        f.write("# per vector: scale bits | float32 bits ... | int8 codes ... (hex bits, decimal codes)\n")
        for v in vectors:
            x = torch.tensor(v, dtype=torch.float32)
            scale = x.abs().amax() / 127
            if scale.item() == 0:
                codes = torch.zeros_like(x)
            else:
                codes = torch.round(x / scale).clamp(-127, 127)
            codes = codes.to(torch.int8).tolist()
            f.write(f"{f32_bits(scale.item()):08x} | " + " ".join(f"{f32_bits(e):08x}" for e in x.tolist())
                    + " | " + " ".join(str(c) for c in codes) + "\n")
    print(f"{len(vectors)} int8 vectors -> {os.path.normpath(path)}")


if __name__ == "__main__":
    main()
