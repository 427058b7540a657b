package dev.tessera.engine.diffusion.convert;

import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.checkpoint.TensorInfo;
import dev.tessera.engine.onnx.GraphBuilder;
import dev.tessera.engine.onnx.GraphBuilder.ElementType;

/**
 * The layers diffusion graphs are made of, written into one {@link GraphBuilder}, with every checkpoint tensor
 * shape-checked ({@link Checkpoint#expect}: a missing tensor or a wrong shape names the file and tensor) and stored
 * once in the component's {@link WeightFile}. Standard ONNX ops, opset {@value #OPSET}; values are named by strings.
 *
 * <p>Linear layers are {@code MatMul(x, Transpose(W)) + b} (ONNX Runtime folds the transpose of an initializer at
 * load), GroupNorm is {@code InstanceNormalization} over {@code [N, G, -1]} then the per-channel affine, GELU is
 * written with {@code Erf} and SiLU as {@code x·sigmoid(x)} (both fused by ONNX Runtime).
 */
public final class Layers {
    public static final int OPSET = 17;
    /** ONNX Runtime's contrib-op domain ({@code MultiHeadAttention}), version 1. */
    public static final String MS_DOMAIN = "com.microsoft";
    /**
     * Floats per element of q (and of k, v) that {@code MultiHeadAttention}'s flash path holds besides its inputs and
     * output: it transposes q, k and v to {@code [N, H, L, D]} copies (its per-thread tiles are a few hundred KiB).
     */
    public static final int FLASH_COPIES = 3;

    private final GraphBuilder g;
    private final Checkpoint ck;
    private final WeightFile weights;

    public Layers(GraphBuilder g, Checkpoint ck, WeightFile weights) {
        this.g = g;
        this.ck = ck;
        this.weights = weights;
    }

    public GraphBuilder graph() {
        return g;
    }

    public Checkpoint checkpoint() {
        return ck;
    }

    /** Checkpoint tensor {@code name} of exactly {@code shape}, as an initializer of dims {@code dims}. */
    public String weight(String name, long[] shape, long... dims) {
        TensorInfo t = ck.expect(name, shape);
        g.externalInitializer(name, ElementType.FLOAT, dims, weights.name(), weights.append(t));
        return name;
    }

    /** Checkpoint tensor {@code name} of exactly {@code shape}. */
    public String weight(String name, long... shape) {
        return weight(name, shape, shape);
    }

    /** A computed float constant, stored in the weight file. */
    public String constant(String name, float[] data, long... dims) {
        g.externalInitializer(name, ElementType.FLOAT, dims, weights.name(), weights.append(data));
        return name;
    }

    /** An inline int64 constant (shapes, axes). */
    public String ints(long... values) {
        String name = g.fresh("const");
        g.initializer(name, values, values.length);
        return name;
    }

    /** An inline float vector (small constants such as resize scales). */
    public String floats(float... values) {
        String name = g.fresh("floats");
        g.initializer(name, values, values.length);
        return name;
    }

    /** An inline float scalar. */
    public String scalar(float value) {
        String name = g.fresh("scalar");
        g.initializer(name, new float[] {value});
        return name;
    }

    public String op(String type, String... inputs) {
        return g.op(type, inputs).out1();
    }

    /** {@code x @ W^T + b} over the last axis, {@code W = prefix.weight [out, in]}, bias {@code prefix.bias}. */
    public String linear(String x, String prefix, long in, long out, boolean bias) {
        String w = weight(prefix + ".weight", out, in);
        String wt = g.op("Transpose", w).attr("perm", new long[] {1, 0}).out1();
        String y = op("MatMul", x, wt);
        return bias ? op("Add", y, weight(prefix + ".bias", out)) : y;
    }

    /** A 2-D convolution {@code prefix.weight [out, in, k, k]}, {@code prefix.bias [out]}. */
    public String conv(String x, String prefix, long in, long out, int k, int stride, int pad) {
        String w = weight(prefix + ".weight", out, in, k, k);
        String b = weight(prefix + ".bias", out);
        return g.op("Conv", x, w, b).attr("kernel_shape", new long[] {k, k})
                .attr("strides", new long[] {stride, stride}).attr("pads", new long[] {pad, pad, pad, pad}).out1();
    }

    /** GroupNorm over NCHW {@code x}: {@code prefix.weight}, {@code prefix.bias} of {@code [channels]}. */
    public String groupNorm(String x, String prefix, long channels, int groups, float eps) {
        String grouped = op("Reshape", x, ints(0, groups, -1));
        float[] ones = new float[groups];
        java.util.Arrays.fill(ones, 1f);
        String scale = g.fresh("gn_scale");
        g.initializer(scale, ones, groups);
        String zero = g.fresh("gn_bias");
        g.initializer(zero, new float[groups], groups);
        String normed = g.op("InstanceNormalization", grouped, scale, zero).attr("epsilon", eps).out1();
        String back = op("Reshape", normed, op("Shape", x));
        String w = weight(prefix + ".weight", new long[] {channels}, channels, 1, 1);
        String b = weight(prefix + ".bias", new long[] {channels}, channels, 1, 1);
        return op("Add", op("Mul", back, w), b);
    }

    /** LayerNorm over the last axis: {@code prefix.weight}, {@code prefix.bias} of {@code [dim]}. */
    public String layerNorm(String x, String prefix, long dim, float eps) {
        return g.op("LayerNormalization", x, weight(prefix + ".weight", dim), weight(prefix + ".bias", dim))
                .attr("axis", -1).attr("epsilon", eps).out1();
    }

    public String silu(String x) {
        return op("Mul", x, op("Sigmoid", x));
    }

    /** Exact (erf) GELU. */
    public String gelu(String x) {
        String e = op("Erf", op("Mul", x, scalar((float) (1 / Math.sqrt(2)))));
        return op("Mul", op("Mul", x, scalar(0.5f)), op("Add", e, scalar(1f)));
    }

    /** CLIP's quick GELU: {@code x·sigmoid(1.702·x)}. */
    public String quickGelu(String x) {
        return op("Mul", x, op("Sigmoid", op("Mul", x, scalar(1.702f))));
    }

    /** NCHW → {@code [N, H·W, C]}. */
    public String toTokens(String x, long channels) {
        String t = g.op("Transpose", x).attr("perm", new long[] {0, 2, 3, 1}).out1();
        return op("Reshape", t, ints(0, -1, channels));
    }

    /** {@code [N, H·W, C]} → NCHW with the batch and spatial sizes of {@code like}. */
    public String toImage(String tokens, String like) {
        String shape = op("Shape", like);
        String nhwc = g.op("Concat", slice(shape, 0, 1), slice(shape, 2, 4), slice(shape, 1, 2)).attr("axis", 0)
                .out1();
        String t = op("Reshape", tokens, nhwc);
        return g.op("Transpose", t).attr("perm", new long[] {0, 3, 1, 2}).out1();
    }

    /** Elements {@code [from, to)} of a 1-D int64 value. */
    public String slice(String v, long from, long to) {
        return op("Slice", v, ints(from), ints(to), ints(0));
    }

    /**
     * Multi-head attention: {@code q [N, Lq, H·D]}, {@code k}, {@code v [N, Lk, H·D]} → {@code [N, Lq, H·D]}, scores
     * scaled by {@code 1/√D}.
     *
     * <p>Without a mask (the UNet's self- and cross-attention, the VAE's mid-block) this is ONNX Runtime's
     * {@code com.microsoft.MultiHeadAttention} contrib op, whose CPU kernel (1.24, {@code multihead_attention.cc})
     * runs MLAS's FlashAttention for fp32 with no mask, bias or past (tiles sized from the L2 cache, online softmax):
     * no {@code [N, H, Lq, Lk]} score matrix exists, only transposed copies of q, k and v ({@link #FLASH_COPIES}).
     * Chosen over splitting the graph at attention for the Java {@code PackedAttention} kernel by measurement
     * ({@code bench attention --unet}, engine README "Attention"): on SD 1.5's 4096 × 8 × 40 self-attention, one row,
     * 1.18 s for this op, 3.38 s for the Java kernel, 2.01 s (and 520 MiB of scores) for the materialised graph below.
     * The kernel falls back to materialised scores when ONNX Runtime sees no L2 cache size or
     * {@code ORT_DISABLE_FLASH_ATTENTION} is set; {@link FlashAttention#available()} says whether it applies here.
     *
     * <p>With a {@code mask} (broadcast to {@code [N, H, Lq, Lk]}: CLIP's causal 77 tokens) the scores are
     * materialised with {@code MatMul} and {@code Softmax}: small, and outside the flash kernel's conditions.
     */
    public String attention(String q, String k, String v, long heads, long headDim,
                            @org.jspecify.annotations.Nullable String mask) {
        if (mask == null) {
            return g.op("MultiHeadAttention", q, k, v).domain(MS_DOMAIN).attr("num_heads", heads).out1();
        }
        String qh = g.op("Transpose", op("Reshape", q, ints(0, 0, heads, headDim)))
                .attr("perm", new long[] {0, 2, 1, 3}).out1();
        String kh = g.op("Transpose", op("Reshape", k, ints(0, 0, heads, headDim)))
                .attr("perm", new long[] {0, 2, 3, 1}).out1();
        String vh = g.op("Transpose", op("Reshape", v, ints(0, 0, heads, headDim)))
                .attr("perm", new long[] {0, 2, 1, 3}).out1();
        String scores = op("Add", op("Mul", op("MatMul", qh, kh), scalar((float) (1 / Math.sqrt(headDim)))), mask);
        String p = g.op("Softmax", scores).attr("axis", -1).out1();
        String o = g.op("Transpose", op("MatMul", p, vh)).attr("perm", new long[] {0, 2, 1, 3}).out1();
        return op("Reshape", o, ints(0, 0, heads * headDim));
    }
}
