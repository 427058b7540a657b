package dev.tessera.engine.detect.convert;

/**
 * The graphs of a converted DETR and the names of their inputs and outputs, shared by the converter and the
 * executor. Rows are packed and unpadded: {@code M} backbone tokens of one same-size group, {@code T} encoder tokens
 * of all frames of a step, {@code R} = frames × queries decoder rows; {@code d} = {@code d_model}.
 *
 * <ul>
 *   <li>{@value #BACKBONE}: {@link #PIXELS} {@code [N, 3, H, W]} → {@link #TOKENS} {@code [N·h·w, d]}: the ResNet
 *       (frozen BatchNorm folded into the convolutions), the input projection, and the flattening of each feature
 *       map to rows ({@code y} major, then {@code x}), frame after frame;</li>
 *   <li>encoder segment 0: {@link #X_IN}, {@link #POS} {@code [T, d]} → {@link #Q}, {@link #K}, {@link #V} of
 *       layer 0 (queries and keys from {@code x + pos}, values from {@code x});</li>
 *   <li>encoder segment i (1 ≤ i &lt; L): {@link #ATTN}, {@link #X_IN}, {@link #POS} → {@link #X_OUT} (layer i−1's
 *       output: o_proj, residual, LayerNorm, FFN, residual, LayerNorm), q, k, v of layer i;</li>
 *   <li>encoder segment L: {@link #ATTN}, {@link #X_IN}, {@link #POS} → the memory's cross-attention keys
 *       {@code cross_k_j} (from {@code memory + pos}) and values {@code cross_v_j} for every decoder layer j;</li>
 *   <li>{@value #DECODER_START}: {@link #X_IN} (zeros: DETR's decoder input), {@link #QUERY_POS} {@code [R, d]} →
 *       q, k, v of decoder layer 0's self-attention;</li>
 *   <li>decoder cross j: {@link #ATTN} (self-attention output), {@link #X_IN}, {@link #QUERY_POS} → {@link #X_OUT},
 *       {@link #Q} (cross-attention queries);</li>
 *   <li>decoder ffn j &lt; last: {@link #ATTN} (cross-attention output), {@link #X_IN}, {@link #QUERY_POS} →
 *       {@link #X_OUT}, q, k, v of layer j+1's self-attention;</li>
 *   <li>decoder ffn last: {@link #ATTN}, {@link #X_IN} → {@link #LOGITS} {@code [R, C+1]} and {@link #BOXES}
 *       {@code [R, 4]} (final LayerNorm, class head, box MLP and sigmoid).</li>
 * </ul>
 */
public final class DetrGraphs {
    public static final String BACKBONE = "backbone.onnx";
    public static final String DECODER_START = "decoder-start.onnx";
    public static final String PIXELS = "pixel_values";
    public static final String TOKENS = "tokens";
    public static final String X_IN = "x_in";
    public static final String X_OUT = "x_out";
    public static final String POS = "pos";
    public static final String QUERY_POS = "query_pos";
    public static final String ATTN = "attn";
    public static final String Q = "q";
    public static final String K = "k";
    public static final String V = "v";
    public static final String LOGITS = "logits";
    public static final String BOXES = "pred_boxes";

    private DetrGraphs() {
    }

    public static String encoder(int i) {
        return String.format("encoder-%03d.onnx", i);
    }

    public static String decoderCross(int j) {
        return String.format("decoder-%03d-cross.onnx", j);
    }

    public static String decoderFfn(int j) {
        return String.format("decoder-%03d-ffn.onnx", j);
    }

    public static String crossK(int j) {
        return "cross_k_" + j;
    }

    public static String crossV(int j) {
        return "cross_v_" + j;
    }
}
