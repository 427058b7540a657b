package dev.tessera.engine.diffusion.unet;

import dev.tessera.engine.diffusion.convert.JsonConfig;
import dev.tessera.engine.diffusion.convert.Layers;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * {@code unet/config.json} of a {@code UNet2DConditionModel} in Stable Diffusion 1.x/2.x's shape, checked at load:
 * anything this converter does not build (SDXL's added embeddings, class embeddings, other block types, scale-shift
 * time conditioning, ...) is a {@code CheckpointException} naming the file and key.
 *
 * @param heads             attention heads per down block (diffusers reads {@code attention_head_dim} as the head
 *                          count when {@code num_attention_heads} is absent)
 * @param transformerLayers transformer blocks per attention, per down block
 * @param crossDown         which down blocks have cross-attention ({@code CrossAttnDownBlock2D})
 * @param crossUp           which up blocks have cross-attention ({@code CrossAttnUpBlock2D})
 */
public record UNetConfig(int inChannels, int outChannels, int[] blockOut, int layersPerBlock, int groups, float eps,
                         int crossDim, int[] heads, int[] transformerLayers, boolean[] crossDown, boolean[] crossUp,
                         boolean linearProjection, boolean flipSinToCos, float freqShift) {
    private static final Set<String> DOWN = Set.of("CrossAttnDownBlock2D", "DownBlock2D");
    private static final Set<String> UP = Set.of("CrossAttnUpBlock2D", "UpBlock2D");

    public static UNetConfig read(Path file) {
        JsonConfig c = JsonConfig.read(file);
        for (String key : List.of("class_embed_type", "addition_embed_type", "time_cond_proj_dim",
                "encoder_hid_dim_type", "encoder_hid_dim", "num_class_embeds", "timestep_post_act",
                "time_embedding_act_fn", "cross_attention_norm", "time_embedding_dim", "mid_block_only_cross_attention",
                "reverse_transformer_layers_per_block")) {
            if (c.has(key)) throw c.unsupported(key, "Stable Diffusion 1.x/2.x UNets only");
        }
        require(c, "act_fn", "silu");
        require(c, "resnet_time_scale_shift", "default");
        require(c, "time_embedding_type", "positional");
        require(c, "attention_type", "default");
        require(c, "mid_block_type", "UNetMidBlock2DCrossAttn");
        for (String key : List.of("dual_cross_attention", "only_cross_attention", "center_input_sample",
                "resnet_skip_time_act", "class_embeddings_concat")) {
            if (c.root().path(key).isArray() || c.boolOr(key, false)) throw c.unsupported(key, "must be false");
        }
        if (c.intOr("conv_in_kernel", 3) != 3 || c.intOr("conv_out_kernel", 3) != 3) {
            throw c.unsupported("conv_in_kernel", "3x3 convolutions only");
        }
        if (c.doubleOr("resnet_out_scale_factor", 1) != 1 || c.doubleOr("mid_block_scale_factor", 1) != 1) {
            throw c.unsupported("resnet_out_scale_factor", "must be 1");
        }
        if (c.intOr("downsample_padding", 1) != 1) throw c.unsupported("downsample_padding", "must be 1");
        List<String> down = c.strings("down_block_types");
        List<String> up = c.strings("up_block_types");
        int[] blockOut = c.intsOr("block_out_channels", 0, new int[] {320, 640, 1280, 1280});
        int n = blockOut.length;
        if (down.size() != n || up.size() != n) {
            throw c.unsupported("down_block_types", "one down and one up block per block_out_channels entry");
        }
        boolean[] crossDown = new boolean[n];
        boolean[] crossUp = new boolean[n];
        for (int i = 0; i < n; i++) {
            if (!DOWN.contains(down.get(i))) throw c.unsupported("down_block_types", "only " + DOWN);
            if (!UP.contains(up.get(i))) throw c.unsupported("up_block_types", "only " + UP);
            crossDown[i] = down.get(i).startsWith("CrossAttn");
            crossUp[i] = up.get(i).startsWith("CrossAttn");
        }
        int[] heads = c.has("num_attention_heads") ? c.intsOr("num_attention_heads", n, null)
                : c.intsOr("attention_head_dim", n, filled(n, 8));
        int[] layers = c.intsOr("transformer_layers_per_block", n, filled(n, 1));
        if (heads.length != n) throw c.unsupported("attention_head_dim", "one entry per block");
        if (layers.length != n) throw c.unsupported("transformer_layers_per_block", "one entry per block");
        if (c.root().path("layers_per_block").isArray()) throw c.unsupported("layers_per_block", "one integer");
        if (c.root().path("cross_attention_dim").isArray()) throw c.unsupported("cross_attention_dim", "one integer");
        UNetConfig cfg = new UNetConfig(c.intOr("in_channels", 4), c.intOr("out_channels", 4), blockOut,
                c.intOr("layers_per_block", 2), c.intOr("norm_num_groups", 32), (float) c.doubleOr("norm_eps", 1e-5),
                c.intOr("cross_attention_dim", 1280), heads, layers, crossDown, crossUp,
                c.boolOr("use_linear_projection", false), c.boolOr("flip_sin_to_cos", true),
                (float) c.doubleOr("freq_shift", 0));
        for (int i = 0; i < n; i++) {
            if (blockOut[i] % cfg.groups != 0) throw c.unsupported("norm_num_groups", "must divide every block width");
            if (blockOut[i] % heads[i] != 0 || blockOut[n - 1 - i] % heads[n - 1 - i] != 0) {
                throw c.unsupported("attention_head_dim", "heads must divide the block width");
            }
        }
        return cfg;
    }

    /**
     * Bytes the attention of one row holds at its largest attention level, for a latent of {@code h × w} (each
     * downsampling halves a side rounding up; T positions and C channels at a level): with ONNX Runtime's flash
     * path ({@code flash}, see {@code convert.FlashAttention}) the transposed q/k/v copies,
     * {@value Layers#FLASH_COPIES} × T × C floats (the self-attention's; the cross-attention's keys are the 77 text
     * tokens); without it the materialised scores, heads × T² floats.
     */
    public long attentionBytes(int h, int w, boolean flash) {
        int n = blockOut.length;
        long worst = 0;
        int lh = h;
        int lw = w;
        for (int level = 0; level < n; level++) {
            long t = (long) lh * lw;
            long heads = 0;
            if (crossDown[level]) heads = Math.max(heads, this.heads[level]);
            if (crossUp[n - 1 - level]) heads = Math.max(heads, this.heads[level]);
            if (level == n - 1) heads = Math.max(heads, this.heads[n - 1]); // the mid block
            if (heads > 0) {
                long bytes = flash ? (long) Layers.FLASH_COPIES * t * blockOut[level] * Float.BYTES
                        : heads * t * t * Float.BYTES;
                worst = Math.max(worst, bytes);
            }
            lh = (lh + 1) / 2;
            lw = (lw + 1) / 2;
        }
        return worst;
    }

    /** Latent downscaling between the input and the deepest level: 2^(blocks − 1). */
    public int downscale() {
        return 1 << (blockOut.length - 1);
    }

    private static int[] filled(int n, int value) {
        int[] a = new int[n];
        java.util.Arrays.fill(a, value);
        return a;
    }

    private static void require(JsonConfig c, String key, String value) {
        String v = c.stringOr(key, value);
        if (!value.equals(v)) throw c.unsupported(key, "only " + value);
    }
}
