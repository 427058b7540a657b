package dev.tessera.engine.text.quant;

import java.util.Locale;

/**
 * How a text model's linear layers are stored: fp32, or block-wise integers run by ONNX Runtime's
 * {@code com.microsoft.MatMulNBits} (the MLAS kernels onnxruntime-genai's model builder emits for CPU).
 *
 * <p>Each block of {@code blockSize} weights along the input dimension has one fp32 scale and, when asymmetric, a
 * zero point: {@code w ≈ (q - zp) * scale}. Symmetric blocks use the implicit zero point {@code 2^(bits-1)}.
 *
 * <p><b>Compute accuracy.</b> {@link #ACCURACY_INT8} ({@code accuracy_level=4}): MLAS quantizes the activations to
 * int8 per block and multiplies with integer dot products (AVX2 {@code vpmaddubsw}, AVX-512 VNNI), the path
 * onnxruntime-genai picks for CPU. It is the fastest on both the bandwidth-bound decode and the compute-bound
 * prefill; the accuracy cost of int8 activations is small next to that of 4-bit weights and is covered by the
 * accuracy tests (top-1 agreement and KL against fp32).
 *
 * <p>What stays fp32: the embedding table (a gather reads one row per token) and the norms. {@code lm_head} is
 * quantized to 8 bits in both modes (as llama.cpp keeps its output layer at a higher precision than the blocks):
 * with a large vocabulary it is a large share of the bytes each decoded token reads.
 *
 * @param bits      4 or 8; 0 means fp32 (no quantization)
 * @param blockSize weights per block along K: 32, 64 or 128
 * @param symmetric zero point fixed at {@code 2^(bits-1)} (true) or one per block (false)
 */
public record WeightQuantization(int bits, int blockSize, boolean symmetric) {
    /** MatMulNBits {@code accuracy_level}: int8 activations (see the class comment). */
    public static final long ACCURACY_INT8 = 4;
    /** MatMulNBits {@code accuracy_level}: fp32 activations, weights dequantized on the fly. */
    public static final long ACCURACY_FP32 = 1;
    public static final WeightQuantization NONE = new WeightQuantization(0, 0, true);

    public WeightQuantization {
        if (bits != 0 && bits != 4 && bits != 8) throw new IllegalArgumentException("bits must be 4 or 8, got " + bits);
        if (bits != 0 && blockSize != 32 && blockSize != 64 && blockSize != 128) {
            throw new IllegalArgumentException("block size must be 32, 64 or 128, got " + blockSize);
        }
    }

    /**
     * Parses {@code none|fp32|int8|int4}, optionally followed by {@code :BLOCK} and {@code :asym}, e.g.
     * {@code int4:128:asym}. Defaults: block 32, symmetric.
     */
    public static WeightQuantization parse(String spec) {
        String[] parts = spec.trim().toLowerCase(Locale.ROOT).split(":");
        int bits = switch (parts[0]) {
            case "none", "fp32" -> 0;
            case "int8" -> 8;
            case "int4" -> 4;
            default -> throw new IllegalArgumentException("quantization must be none, int8 or int4 (optionally "
                    + ":32|64|128 and :asym), got '" + spec + "'");
        };
        if (bits == 0) {
            if (parts.length > 1) throw new IllegalArgumentException("'" + parts[0] + "' takes no options: " + spec);
            return NONE;
        }
        int block = 32;
        boolean symmetric = true;
        for (int i = 1; i < parts.length; i++) {
            if (parts[i].equals("asym")) {
                symmetric = false;
            } else if (parts[i].equals("sym")) {
                symmetric = true;
            } else {
                try {
                    block = Integer.parseInt(parts[i]);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("unknown quantization option '" + parts[i] + "' in " + spec);
                }
            }
        }
        return new WeightQuantization(bits, block, symmetric);
    }

    /** The {@code accuracy_level} the converter gives MatMulNBits for this format (see the class comment). */
    public long accuracyLevel() {
        return ACCURACY_INT8;
    }

    public boolean enabled() {
        return bits != 0;
    }

    /** The lm_head's setting: 8 bits with the same blocks (see the class comment). */
    public WeightQuantization forLmHead() {
        return enabled() ? new WeightQuantization(8, blockSize, symmetric) : NONE;
    }

    /** A stable name, part of the converted graphs' cache key: {@code fp32}, {@code int4-b32-sym}, ... */
    public String key() {
        return enabled() ? "int" + bits + "-b" + blockSize + (symmetric ? "-sym" : "-asym") : "fp32";
    }

    @Override
    public String toString() {
        return key();
    }
}
