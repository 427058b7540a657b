package dev.tessera.engine.vision;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.engine.checkpoint.CheckpointException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A Qwen2-VL {@code preprocessor_config.json}: the pixel bounds of the smart resize, rescale and normalization,
 * and the patch geometry. Missing keys take {@code Qwen2VLImageProcessor}'s defaults.
 *
 * @param minPixels     fewest pixels after resizing ({@code min_pixels} or {@code size.shortest_edge})
 * @param maxPixels     most pixels after resizing ({@code max_pixels} or {@code size.longest_edge})
 * @param rescaleFactor 1/255
 * @param mean          per-channel mean (CLIP's)
 * @param std           per-channel standard deviation (CLIP's)
 * @param patchSize     14
 * @param mergeSize     2
 * @param temporalPatch 2
 */
public record ImageProcessorConfig(long minPixels, long maxPixels, double rescaleFactor, float[] mean, float[] std,
                                   int patchSize, int mergeSize, int temporalPatch) {
    /** OpenAI CLIP's mean and standard deviation, transformers' {@code OPENAI_CLIP_MEAN} / {@code _STD}. */
    static final double[] CLIP_MEAN = {0.48145466, 0.4578275, 0.40821073};
    static final double[] CLIP_STD = {0.26862954, 0.26130258, 0.27577711};

    /** The file name. */
    public static final String FILE = "preprocessor_config.json";

    /**
     * Reads {@code dir/preprocessor_config.json}; defaults where it is absent.
     *
     * @throws CheckpointException naming the file for a bad value (a resample other than bicubic, bad bounds)
     */
    public static ImageProcessorConfig load(Path dir) {
        Path file = dir.resolve(FILE);
        JsonNode c;
        if (Files.isRegularFile(file)) {
            try {
                c = new ObjectMapper().readTree(Files.readString(file));
            } catch (IOException e) {
                throw new CheckpointException(file, null, "cannot read: " + e.getMessage(), e);
            }
        } else {
            c = new ObjectMapper().createObjectNode();
        }
        long min = c.path("min_pixels").asLong(c.path("size").path("shortest_edge").asLong(56 * 56));
        long max = c.path("max_pixels").asLong(c.path("size").path("longest_edge").asLong(28 * 28 * 1280));
        if (min <= 0 || max < min) {
            throw new CheckpointException(file, null, "min_pixels " + min + " / max_pixels " + max + " are not a range");
        }
        int resample = c.path("resample").asInt(3);
        if (resample != 3) {
            throw new CheckpointException(file, null, "resample " + resample + " is not supported (3, bicubic, is)");
        }
        double rescale = c.path("rescale_factor").asDouble(1 / 255.0);
        if (!c.path("do_rescale").asBoolean(true)) rescale = 1;
        boolean normalize = c.path("do_normalize").asBoolean(true);
        float[] mean = floats(c.path("image_mean"), normalize ? CLIP_MEAN : new double[] {0, 0, 0}, file);
        float[] std = floats(c.path("image_std"), normalize ? CLIP_STD : new double[] {1, 1, 1}, file);
        if (!normalize) {
            mean = new float[] {0, 0, 0};
            std = new float[] {1, 1, 1};
        }
        return new ImageProcessorConfig(min, max, rescale, mean, std, c.path("patch_size").asInt(14),
                c.path("merge_size").asInt(2), c.path("temporal_patch_size").asInt(2));
    }

    private static float[] floats(JsonNode n, double[] dflt, Path file) {
        float[] out = new float[3];
        if (n.isArray()) {
            if (n.size() != 3) throw new CheckpointException(file, null, "image_mean / image_std need 3 values");
            for (int i = 0; i < 3; i++) out[i] = (float) n.get(i).asDouble();
        } else {
            for (int i = 0; i < 3; i++) out[i] = (float) dflt[i];
        }
        return out;
    }
}
