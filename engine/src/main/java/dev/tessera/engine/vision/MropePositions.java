package dev.tessera.engine.vision;

import java.util.List;

/**
 * Multimodal rotary positions of a prompt, as transformers' {@code get_rope_index} (5.24) computes them for
 * Qwen2-VL: text tokens count up by one on all three axes; the tokens of an image (a run of image placeholders,
 * {@code (t, h/merge, w/merge)} of them) take (start + t, start + row, start + column); the text after an image
 * continues from {@code start + max(h, w) / merge}. The rope delta, {@code max position + 1 - length}, is what
 * every token past the prompt adds to its index on all three axes.
 *
 * @param positions axis-major {@code [3][length]}: temporal, height, width
 * @param delta     the rope delta carried into decode
 */
public record MropePositions(int[] positions, int delta) {

    /**
     * @param tokens       the prompt's token ids, image placeholders expanded
     * @param length       tokens of {@code tokens} that are the prompt
     * @param imageTokenId the placeholder id
     * @param grids        per image in prompt order, its {@code (t, h, w)} patch grid
     * @param mergeSize    patches merged per side into one token
     * @throws IllegalArgumentException when the placeholders do not match the grids
     */
    public static MropePositions of(int[] tokens, int length, int imageTokenId, List<int[]> grids, int mergeSize) {
        int[] pos = new int[3 * length];
        int current = 0;
        int image = 0;
        int i = 0;
        int max = -1;
        while (i < length) {
            if (tokens[i] != imageTokenId) {
                pos[i] = current;
                pos[length + i] = current;
                pos[2 * length + i] = current;
                max = Math.max(max, current);
                current++;
                i++;
                continue;
            }
            if (image >= grids.size()) throw new IllegalArgumentException("more image placeholder runs than images");
            int[] g = grids.get(image++);
            int gt = g[0];
            int gh = g[1] / mergeSize;
            int gw = g[2] / mergeSize;
            int n = gt * gh * gw;
            for (int k = 0; k < n; k++) {
                if (i + k >= length || tokens[i + k] != imageTokenId) {
                    throw new IllegalArgumentException("image " + (image - 1) + " needs " + n + " placeholders");
                }
                int t = k / (gh * gw);
                int r = (k / gw) % gh;
                int c = k % gw;
                pos[i + k] = current + t;
                pos[length + i + k] = current + r;
                pos[2 * length + i + k] = current + c;
                max = Math.max(max, Math.max(current + t, Math.max(current + r, current + c)));
            }
            i += n;
            current += Math.max(gh, gw);
        }
        if (image != grids.size()) throw new IllegalArgumentException("fewer image placeholder runs than images");
        return new MropePositions(pos, max + 1 - length);
    }
}
