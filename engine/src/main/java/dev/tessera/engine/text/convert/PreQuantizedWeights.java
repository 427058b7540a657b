package dev.tessera.engine.text.convert;

import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.checkpoint.CheckpointException;
import dev.tessera.engine.checkpoint.DType;
import dev.tessera.engine.checkpoint.TensorInfo;
import dev.tessera.engine.text.model.ModelConfig;
import dev.tessera.engine.text.quant.CheckpointQuantization;
import dev.tessera.engine.text.quant.PreQuantizedLinear;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The projections of a GPTQ or AWQ checkpoint ({@code <module>.qweight}, {@code .qzeros}, {@code .scales}, GPTQ's
 * {@code .g_idx}), checked against the config when constructed (names, dtypes and shapes, from the headers only) and
 * repacked into MatMulNBits' layout by {@link #read} while the graphs are written. Every failure names the file and
 * the tensor.
 *
 * <p>A projection the quantizer left out ({@code modules_to_not_convert}, a GPT-QModel {@code dynamic} exclusion) is
 * stored as a plain {@code .weight}; it then runs in fp32 like an unquantized checkpoint's (its {@code DecoderWeights}
 * slot is set). Projections fused into one MatMul (q/k/v, gate/up) must all be quantized or all not.
 */
final class PreQuantizedWeights {
    /** The projections of one layer, each {@code [out, in]}, in the fused groups the converter emits. */
    static final String[] QKV = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"};
    static final String[] O = {"self_attn.o_proj"};
    static final String[] GATE_UP = {"mlp.gate_proj", "mlp.up_proj"};
    static final String[] DOWN = {"mlp.down_proj"};

    private final Checkpoint checkpoint;
    private final CheckpointQuantization format;
    private final String prefix;
    /** {@code [out, in]} of every projection, by tensor-name prefix. */
    private final Map<String, long[]> shapes = new HashMap<>();

    PreQuantizedWeights(Checkpoint checkpoint, ModelConfig c, CheckpointQuantization format) {
        this.checkpoint = checkpoint;
        this.format = format;
        this.prefix = checkpoint.has("model.language_model.embed_tokens.weight") ? "model.language_model." : "model.";
        long h = c.hiddenSize();
        long inter = c.intermediateSize();
        for (int i = 0; i < c.numLayers(); i++) {
            expect(i, QKV[0], c.qDim(), h);
            expect(i, QKV[1], c.kvDim(), h);
            expect(i, QKV[2], c.kvDim(), h);
            expect(i, O[0], h, c.qDim());
            expect(i, GATE_UP[0], inter, h);
            expect(i, GATE_UP[1], inter, h);
            expect(i, DOWN[0], h, inter);
        }
    }

    CheckpointQuantization format() {
        return format;
    }

    /** Whether layer {@code layer}'s {@code modules} are stored quantized (else as fp {@code .weight}s). */
    boolean quantized(int layer, String... modules) {
        boolean q = checkpoint.has(prefix + "layers." + layer + "." + modules[0] + ".qweight");
        for (String m : modules) {
            String name = prefix + "layers." + layer + "." + m;
            if (checkpoint.has(name + ".qweight") != q) {
                TensorInfo t = checkpoint.tensor(name + (q ? ".weight" : ".qweight"));
                throw new CheckpointException(t.file(), t.name(), "projections fused into one MatMul "
                        + Arrays.toString(modules) + " must be all quantized or all unquantized");
            }
        }
        return q;
    }

    /** Layer {@code layer}'s {@code modules} (sharing one input), repacked and concatenated along the outputs. */
    PreQuantizedLinear.Repacked read(int layer, String... modules) {
        List<PreQuantizedLinear.Repacked> parts = new ArrayList<>();
        for (String m : modules) {
            String name = prefix + "layers." + layer + "." + m;
            TensorInfo qweight = checkpoint.tensor(name + ".qweight");
            int n = (int) shapes.get(name)[0];
            int k = (int) shapes.get(name)[1];
            int[] q = checkpoint.readInts(qweight);
            int[] zeros = checkpoint.readInts(checkpoint.tensor(name + ".qzeros"));
            float[] scales = checkpoint.readFloats(checkpoint.tensor(name + ".scales"));
            try {
                if (format.method() == CheckpointQuantization.Method.GPTQ && checkpoint.has(name + ".g_idx")) {
                    TensorInfo gIdx = checkpoint.tensor(name + ".g_idx");
                    try {
                        parts.add(PreQuantizedLinear.gptq(q, zeros, scales, checkpoint.readInts(gIdx), n, k, format));
                    } catch (IllegalArgumentException e) {
                        throw new CheckpointException(gIdx.file(), gIdx.name(), e.getMessage(), e);
                    }
                } else if (format.method() == CheckpointQuantization.Method.GPTQ) {
                    parts.add(PreQuantizedLinear.gptq(q, zeros, scales, null, n, k, format)); // groups i / group_size
                } else {
                    parts.add(PreQuantizedLinear.awq(q, zeros, scales, n, k, format));
                }
            } catch (IllegalArgumentException e) {
                throw new CheckpointException(qweight.file(), qweight.name(), e.getMessage(), e);
            }
        }
        try {
            return PreQuantizedLinear.concat(parts);
        } catch (IllegalArgumentException e) {
            String name = prefix + "layers." + layer + "." + modules[modules.length - 1] + ".g_idx";
            throw new CheckpointException(checkpoint.tensor(name).file(), name, e.getMessage() + " ("
                    + Arrays.toString(modules) + ")", e);
        }
    }

    /** Checks one projection's tensors for an {@code [out, in]} layer. */
    private void expect(int layer, String module, long out, long in) {
        String name = prefix + "layers." + layer + "." + module;
        shapes.put(name, new long[] {out, in});
        if (!checkpoint.has(name + ".qweight") && checkpoint.has(name + ".weight")) {
            return; // left unquantized: DecoderWeights checks it as a float weight
        }
        int bits = format.bits();
        long perWord = 32 / bits;
        long groups = format.groupSize() < 0 ? 1 : (in + format.groupSize() - 1) / format.groupSize();
        if (format.method() == CheckpointQuantization.Method.GPTQ) {
            ints(name + ".qweight", (in + perWord - 1) / perWord, out);
            ints(name + ".qzeros", groups, (out + perWord - 1) / perWord);
            floats(name + ".scales", groups, out);
            // g_idx: written by GPT-QModel, AutoGPTQ and optimum; without it (only valid without act-order) input i
            // is in group i / group_size.
            if (checkpoint.has(name + ".g_idx") || format.descAct()) ints(name + ".g_idx", in);
        } else {
            if (out % 8 != 0) {
                throw new CheckpointException(checkpoint.tensor(name + ".qweight").file(), name + ".qweight",
                        "AWQ GEMM needs out_features % 8 == 0, got " + out);
            }
            ints(name + ".qweight", in, out / 8);
            ints(name + ".qzeros", groups, out / 8);
            floats(name + ".scales", groups, out);
        }
    }

    private void ints(String name, long... shape) {
        TensorInfo t = shaped(name, shape);
        if (t.dtype() != DType.I32) {
            throw new CheckpointException(t.file(), name, "unsupported dtype " + t.dtype() + " (expected I32)");
        }
    }

    private void floats(String name, long... shape) {
        TensorInfo t = shaped(name, shape);
        if (!t.dtype().isFloatWeight()) {
            throw new CheckpointException(t.file(), name, "unsupported dtype " + t.dtype()
                    + " (supported: F32, F16, BF16)");
        }
    }

    private TensorInfo shaped(String name, long... shape) {
        TensorInfo t = checkpoint.tensor(name);
        if (!Arrays.equals(t.shape(), shape)) {
            throw new CheckpointException(t.file(), name, "wrong shape " + t.shapeString() + ", expected "
                    + Arrays.toString(shape) + " for a " + format.key() + " checkpoint");
        }
        return t;
    }
}
