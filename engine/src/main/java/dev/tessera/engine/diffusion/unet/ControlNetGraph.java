package dev.tessera.engine.diffusion.unet;

import dev.tessera.engine.diffusion.convert.Layers;
import dev.tessera.engine.onnx.GraphBuilder.ElementType;

import java.util.List;

/**
 * {@code ControlNetModel} as one graph: {@value UNetGraph#SAMPLE} {@code [N, C, h, w]}, {@value UNetGraph#TIMESTEP}
 * {@code [N]}, {@value UNetGraph#CONTEXT} {@code [N, L, D]}, {@value #CONTROL} {@code [N, 3, h·s, w·s]} (the
 * prepared control image, in [0, 1]) and {@value #SCALE} {@code [N]} (one conditioning scale per row) →
 * {@value #DOWN}{@code i} for every UNet skip, then {@value #MID}, each times its row's scale: what
 * {@link UNetGraph#writeWithResiduals} takes.
 *
 * <p>As diffusers' {@code ControlNetModel.forward} with {@code guess_mode} off: the conditioning embedding (a 3×3
 * convolution, then per level a 3×3 convolution and a strided 3×3 convolution, each through SiLU, then the output
 * convolution) added to {@code conv_in}'s output; the UNet's down and mid blocks, built by {@link UNetGraph}'s own
 * code; the 1×1 zero convolutions {@code controlnet_down_blocks.i} on each skip and {@code controlnet_mid_block} on
 * the mid block's output.
 */
public final class ControlNetGraph {
    public static final String NAME = "controlnet";
    public static final String CONTROL = "controlnet_cond";
    public static final String SCALE = "conditioning_scale";
    public static final String DOWN = "down_residual_";
    public static final String MID = "mid_residual";

    private ControlNetGraph() {
    }

    public static void write(Layers l, ControlNetConfig cn) {
        UNetConfig c = cn.unet();
        int n = c.blockOut().length;
        long c0 = c.blockOut()[0];
        l.graph().input(UNetGraph.SAMPLE, ElementType.FLOAT, "N", c.inChannels(), "H", "W");
        l.graph().input(UNetGraph.TIMESTEP, ElementType.FLOAT, "N");
        l.graph().input(UNetGraph.CONTEXT, ElementType.FLOAT, "N", "L", c.crossDim());
        l.graph().input(CONTROL, ElementType.FLOAT, "N", 3, "IH", "IW");
        l.graph().input(SCALE, ElementType.FLOAT, "N");
        UNetGraph blocks = new UNetGraph(l, c);
        blocks.embedTime();
        String x = l.conv(UNetGraph.SAMPLE, "conv_in", c.inChannels(), c0, 3, 1, 1);
        x = l.op("Add", x, conditioning(l, cn.conditioningWidths(), c0));
        List<UNetGraph.Skip> skips = blocks.down(x);
        String mid = blocks.mid(skips.get(skips.size() - 1).value());
        String scale = l.graph().op("Unsqueeze", SCALE, l.ints(1, 2, 3)).out1();
        for (int i = 0; i < skips.size(); i++) {
            UNetGraph.Skip s = skips.get(i);
            String r = l.conv(s.value(), "controlnet_down_blocks." + i, s.channels(), s.channels(), 1, 1, 0);
            l.graph().output(l.op("Mul", r, scale), DOWN + i, ElementType.FLOAT, "N", s.channels(), "h" + i, "w" + i);
        }
        long last = c.blockOut()[n - 1];
        String m = l.conv(mid, "controlnet_mid_block", last, last, 1, 1, 0);
        l.graph().output(l.op("Mul", m, scale), MID, ElementType.FLOAT, "N", last, "hm", "wm");
    }

    /** {@code ControlNetConditioningEmbedding} of {@value #CONTROL}: {@code [N, 3, H, W]} → {@code [N, c0, h, w]}. */
    private static String conditioning(Layers l, int[] widths, long c0) {
        String p = "controlnet_cond_embedding.";
        String e = l.silu(l.conv(CONTROL, p + "conv_in", 3, widths[0], 3, 1, 1));
        for (int i = 0; i < widths.length - 1; i++) {
            e = l.silu(l.conv(e, p + "blocks." + (2 * i), widths[i], widths[i], 3, 1, 1));
            e = l.silu(l.conv(e, p + "blocks." + (2 * i + 1), widths[i], widths[i + 1], 3, 2, 1));
        }
        return l.conv(e, p + "conv_out", widths[widths.length - 1], c0, 3, 1, 1);
    }
}
