package dev.tessera.engine.text.quant;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.engine.checkpoint.CheckpointException;
import org.jspecify.annotations.Nullable;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The {@code quantization_config} of a pre-quantized checkpoint whose integer codes load straight into
 * {@code com.microsoft.MatMulNBits} (see {@link PreQuantizedLinear}): GPTQ (4 or 8 bits) and AWQ GEMM (4 bits), in the
 * field spellings GPT-QModel and transformers write ({@code quant_method}, {@code bits}, {@code group_size},
 * {@code sym}, {@code desc_act}, {@code checkpoint_format} / {@code format} / {@code version}).
 *
 * <p>Anything else is refused by {@link #read} with a {@link CheckpointException} naming {@code config.json} and the
 * field: other methods (bitsandbytes, fp8, ...), other bit widths, other packings (GPTQ's planar {@code gptq_p},
 * Marlin, AWQ GEMV), a quantized {@code lm_head}, per-module {@code dynamic} overrides other than exclusions, a pack
 * dtype other than int32.
 *
 * @param method    GPTQ or AWQ
 * @param bits      4, or 8 for GPTQ
 * @param groupSize inputs per group of scales and zero points; -1 means one group over all inputs
 * @param symmetric as the config says (the zero points are read from {@code qzeros} either way)
 * @param descAct   GPTQ act-order: {@code g_idx} may assign the inputs to groups out of order
 * @param zeroMinusOne GPTQ v1 ({@code checkpoint_format: gptq}): {@code qzeros} holds every zero point minus one
 */
public record CheckpointQuantization(Method method, int bits, int groupSize, boolean symmetric, boolean descAct,
                                     boolean zeroMinusOne) {
    /** A pre-quantization method. */
    public enum Method { GPTQ, AWQ }

    /** Reads {@code dir/config.json}'s {@code quantization_config}; null when there is none. */
    public static @Nullable CheckpointQuantization load(Path dir) {
        Path file = dir.resolve("config.json");
        try {
            JsonNode root = new ObjectMapper().readTree(file.toFile());
            return root == null ? null : read(file, root);
        } catch (IOException e) {
            throw new CheckpointException(file, null, "cannot read: " + e.getMessage(), e);
        }
    }

    /**
     * Reads {@code root.quantization_config} of {@code file}; null when there is none.
     *
     * @throws CheckpointException naming {@code file} and the field, if it asks for something not loadable exactly
     */
    public static @Nullable CheckpointQuantization read(Path file, JsonNode root) {
        JsonNode q = root.get("quantization_config");
        if (q == null || q.isNull()) return null;
        if (!q.isObject()) throw refuse(file, "quantization_config must be an object");
        String methodName = q.path("quant_method").asText("").toLowerCase(Locale.ROOT);
        Method method = switch (methodName) {
            case "gptq" -> Method.GPTQ;
            case "awq" -> Method.AWQ;
            default -> throw refuse(file, "quantization_config.quant_method '" + methodName + "' is not supported "
                    + "(supported pre-quantized checkpoints: gptq, awq); load the fp16/fp32 checkpoint and quantize at "
                    + "conversion (--quantize int8|int4)");
        };
        JsonNode bitsNode = q.get("bits");
        if (bitsNode == null || !bitsNode.isIntegralNumber()) {
            throw refuse(file, "quantization_config.bits must be an integer, got " + bitsNode);
        }
        int bits = bitsNode.asInt();
        if (method == Method.GPTQ ? bits != 4 && bits != 8 : bits != 4) {
            throw refuse(file, "quantization_config.bits " + bits + " is not supported for " + methodName
                    + " (MatMulNBits loads " + (method == Method.GPTQ ? "4 or 8" : "4") + " bits exactly)");
        }
        JsonNode groupNode = q.get("group_size");
        int group = groupNode == null || groupNode.isNull() ? 128 : groupNode.asInt(0);
        if (group != -1 && group <= 0) {
            throw refuse(file, "quantization_config.group_size must be positive or -1, got " + groupNode);
        }
        if (group != -1 && PreQuantizedLinear.blockSizeFor(group) < 0) {
            throw refuse(file, "quantization_config.group_size " + group + " is not supported (32, 64, 128, a "
                    + "multiple of 128, or -1)");
        }
        String format = firstText(q, "checkpoint_format", "format", "version");
        boolean zeroMinusOne;
        if (method == Method.GPTQ) {
            format = format == null ? "gptq" : format.toLowerCase(Locale.ROOT);
            zeroMinusOne = switch (format) {
                case "gptq" -> true;
                case "gptq_v2" -> false;
                default -> throw refuse(file, "quantization_config.checkpoint_format '" + format + "' is not "
                        + "supported (supported: gptq, gptq_v2)");
            };
        } else {
            format = format == null ? "gemm" : format.toLowerCase(Locale.ROOT);
            if (!format.equals("gemm")) {
                throw refuse(file, "quantization_config.version '" + format + "' is not supported (supported: gemm)");
            }
            zeroMinusOne = false;
        }
        if (q.path("lm_head").asBoolean(false)) {
            throw refuse(file, "quantization_config.lm_head=true (a quantized lm_head) is not supported");
        }
        JsonNode dynamic = q.get("dynamic");
        if (dynamic != null && dynamic.isObject()) {
            // "-:<regex>" excludes modules (stored as plain .weight, run in fp32); other keys override bits or group
            // size per module, which is not supported.
            for (java.util.Iterator<String> it = dynamic.fieldNames(); it.hasNext(); ) {
                String rule = it.next();
                if (!rule.startsWith("-:")) {
                    throw refuse(file, "quantization_config.dynamic rule '" + rule + "' (a per-module override) is "
                            + "not supported; only exclusions (-:) are");
                }
            }
        }
        String packDtype = q.path("pack_dtype").asText("int32");
        if (!packDtype.equals("int32")) {
            throw refuse(file, "quantization_config.pack_dtype '" + packDtype + "' is not supported (int32)");
        }
        // modules_to_not_convert needs no check: such modules are stored as plain .weight tensors, run in fp32.
        boolean sym = q.path("sym").asBoolean(method == Method.GPTQ);
        boolean descAct = method == Method.GPTQ && q.path("desc_act").asBoolean(false);
        return new CheckpointQuantization(method, bits, group, sym, descAct, zeroMinusOne);
    }

    /** The MatMulNBits layout the codes are repacked into. */
    public WeightQuantization target() {
        return new WeightQuantization(bits, PreQuantizedLinear.blockSizeFor(groupSize), false);
    }

    /** A short name for logs and the cache key: {@code gptq-4b-g128-v1}, {@code awq-4b-g64}. */
    public String key() {
        return method.name().toLowerCase(Locale.ROOT) + "-" + bits + "b-g" + groupSize
                + (descAct ? "-act" : "") + (method == Method.GPTQ ? (zeroMinusOne ? "-v1" : "-v2") : "");
    }

    private static @Nullable String firstText(JsonNode q, String... fields) {
        for (String f : fields) {
            JsonNode n = q.get(f);
            if (n != null && n.isTextual()) return n.asText();
        }
        return null;
    }

    private static CheckpointException refuse(Path file, String message) {
        return new CheckpointException(file, null, "pre-quantized checkpoint: " + message);
    }
}
