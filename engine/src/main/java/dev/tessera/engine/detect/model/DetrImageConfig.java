package dev.tessera.engine.detect.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.engine.checkpoint.CheckpointException;
import dev.tessera.engine.image.ResizeTarget;
import org.jspecify.annotations.Nullable;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The {@code preprocessor_config.json} of a DETR checkpoint: what {@code DetrImageProcessor} does to an image.
 *
 * <p>Read: {@code do_resize}, {@code size} ({@code {shortest_edge, longest_edge}}, {@code {height, width}}, or the
 * legacy integer with {@code max_size}), {@code resample} (2 = bilinear, the only filter supported),
 * {@code do_rescale} / {@code rescale_factor}, {@code do_normalize} / {@code image_mean} / {@code image_std}.
 * {@code do_pad} is ignored: frames are never padded (each is processed at its own size). Defaults are
 * {@code DetrImageProcessor}'s (shortest edge 800, longest 1333, ImageNet mean and std).
 *
 * @param doResize      whether to resize
 * @param shortestEdge  target of the shorter edge (aspect kept); 0 when {@code height}/{@code width} are exact
 * @param longestEdge   limit of the longer edge; 0 = none
 * @param height        exact target height, 0 unless set
 * @param width         exact target width, 0 unless set
 * @param doRescale     multiply by {@code rescaleFactor}
 * @param rescaleFactor usually 1/255
 * @param doNormalize   subtract {@code mean} and divide by {@code std}, per channel
 * @param mean          per-channel mean (R, G, B)
 * @param std           per-channel standard deviation
 */
public record DetrImageConfig(boolean doResize, int shortestEdge, int longestEdge, int height, int width,
                              boolean doRescale, double rescaleFactor, boolean doNormalize, float[] mean,
                              float[] std) {
    public static final float[] IMAGENET_MEAN = {0.485f, 0.456f, 0.406f};
    public static final float[] IMAGENET_STD = {0.229f, 0.224f, 0.225f};
    /** {@code PILImageResampling.BILINEAR}. */
    public static final int BILINEAR = 2;

    public DetrImageConfig {
        mean = mean.clone();
        std = std.clone();
        if (mean.length != 3 || std.length != 3) throw new IllegalArgumentException("mean and std need 3 values");
    }

    /** {@code DetrImageProcessor}'s defaults with the given edges. */
    public static DetrImageConfig shortestLongest(int shortestEdge, int longestEdge) {
        return new DetrImageConfig(true, shortestEdge, longestEdge, 0, 0, true, 1 / 255.0, true, IMAGENET_MEAN,
                IMAGENET_STD);
    }

    /** The {@code (height, width)} an image of this size is resized to. */
    public int[] targetSize(int imageHeight, int imageWidth) {
        if (!doResize) return new int[] {imageHeight, imageWidth};
        if (shortestEdge > 0) return ResizeTarget.shortestLongestEdge(imageHeight, imageWidth, shortestEdge, longestEdge);
        return new int[] {height, width};
    }

    /**
     * The edges {@code (shorter, longer)} a resized frame never exceeds, for sizing buffers; null without a bound
     * (no resize, or no longest edge).
     */
    public int @Nullable [] maxFrameEdges() {
        if (!doResize) return null;
        if (shortestEdge > 0) {
            return longestEdge > 0 ? new int[] {Math.min(shortestEdge, longestEdge), longestEdge} : null;
        }
        return new int[] {Math.min(height, width), Math.max(height, width)};
    }

    /** One line for logs and model info. */
    public String describe() {
        String resize = !doResize ? "no resize"
                : shortestEdge > 0 ? "resize shortest edge " + shortestEdge
                        + (longestEdge > 0 ? ", longest edge " + longestEdge : "") + " (bilinear, antialiased)"
                : "resize to " + height + "x" + width + " (bilinear, antialiased)";
        String rescale = doRescale ? String.format(Locale.ROOT, ", rescale %.6g", rescaleFactor) : "";
        String norm = doNormalize ? String.format(Locale.ROOT, ", normalize mean (%.3f, %.3f, %.3f) std (%.3f, %.3f, "
                + "%.3f)", mean[0], mean[1], mean[2], std[0], std[1], std[2]) : "";
        return resize + rescale + norm;
    }

    /** Reads and validates {@code dir/preprocessor_config.json}. */
    public static DetrImageConfig load(Path dir) {
        Path file = dir.resolve("preprocessor_config.json");
        if (!Files.isRegularFile(file)) throw new CheckpointException(file, null, "file not found");
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new CheckpointException(file, null, "invalid JSON: " + e.getMessage(), e);
        }
        return parse(file, root);
    }

    /** Validates an already parsed {@code preprocessor_config.json}; {@code file} is named in errors. */
    public static DetrImageConfig parse(Path file, @Nullable JsonNode root) {
        if (root == null || !root.isObject()) throw new CheckpointException(file, null, "not a JSON object");
        JsonNode type = root.get("image_processor_type");
        if (type != null && type.isTextual() && !type.asText().startsWith("DetrImageProcessor")) {
            throw fail(file, "image_processor_type " + type.asText() + " is not supported (DetrImageProcessor)");
        }
        JsonNode resample = root.get("resample");
        if (resample != null && !resample.isNull() && resample.asInt(-1) != BILINEAR) {
            throw fail(file, "resample " + resample + " is not supported (only 2, bilinear)");
        }
        boolean doResize = bool(file, root, "do_resize", true);
        int shortest = 800;
        int longest = 1333;
        int h = 0;
        int w = 0;
        JsonNode size = root.get("size");
        JsonNode maxSize = root.get("max_size");
        if (size != null && !size.isNull()) {
            if (size.isIntegralNumber()) {
                shortest = size.asInt();
                longest = maxSize != null && !maxSize.isNull() ? maxSize.asInt() : 1333;
            } else if (size.isObject() && size.has("shortest_edge")) {
                shortest = size.get("shortest_edge").asInt();
                JsonNode l = size.get("longest_edge");
                longest = l != null && !l.isNull() ? l.asInt() : maxSize != null && !maxSize.isNull()
                        ? maxSize.asInt() : 0;
            } else if (size.isObject() && size.has("height") && size.has("width")) {
                shortest = 0;
                longest = 0;
                h = size.get("height").asInt();
                w = size.get("width").asInt();
                if (h <= 0 || w <= 0) throw fail(file, "size " + size + " must be positive");
            } else {
                throw fail(file, "size " + size + " is not supported ({shortest_edge, longest_edge} or "
                        + "{height, width})");
            }
        }
        if (shortest < 0 || longest < 0 || (doResize && shortest == 0 && h == 0)) {
            throw fail(file, "size " + size + " must be positive");
        }
        boolean doRescale = bool(file, root, "do_rescale", true);
        double factor = root.has("rescale_factor") ? root.get("rescale_factor").asDouble() : 1 / 255.0;
        if (!(factor > 0)) throw fail(file, "rescale_factor must be > 0");
        boolean doNormalize = bool(file, root, "do_normalize", true);
        float[] mean = triple(file, root, "image_mean", IMAGENET_MEAN);
        float[] std = triple(file, root, "image_std", IMAGENET_STD);
        for (float s : std) if (!(s > 0)) throw fail(file, "image_std must be > 0");
        return new DetrImageConfig(doResize, shortest, longest, h, w, doRescale, factor, doNormalize, mean, std);
    }

    private static CheckpointException fail(Path file, String message) {
        return new CheckpointException(file, null, message);
    }

    private static boolean bool(Path file, JsonNode root, String key, boolean def) {
        JsonNode v = root.get(key);
        if (v == null || v.isNull()) return def;
        if (!v.isBoolean()) throw fail(file, key + " must be true or false, got " + v);
        return v.asBoolean();
    }

    private static float[] triple(Path file, JsonNode root, String key, float[] def) {
        JsonNode v = root.get(key);
        if (v == null || v.isNull()) return def.clone();
        if (v.isNumber()) return new float[] {(float) v.asDouble(), (float) v.asDouble(), (float) v.asDouble()};
        if (!v.isArray() || v.size() != 3) throw fail(file, key + " must list 3 values (R, G, B), got " + v);
        return new float[] {(float) v.get(0).asDouble(), (float) v.get(1).asDouble(), (float) v.get(2).asDouble()};
    }
}
