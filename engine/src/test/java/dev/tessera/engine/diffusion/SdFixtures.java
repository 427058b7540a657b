package dev.tessera.engine.diffusion;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tessera.engine.checkpoint.SafeTensorsFile;
import dev.tessera.engine.checkpoint.TensorInfo;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/** The fixtures made by {@code tools/make_diffusion_fixtures.py} (diffusers 0.42.1, transformers 5.24). */
public final class SdFixtures {
    public static final Path ROOT = Path.of("src/test/resources/fixtures");
    public static final Path PIPELINE = ROOT.resolve("sd-tiny");
    public static final Path UNET_LINEAR = ROOT.resolve("sd-tiny-unet-linear");
    private static final Path TENSORS = ROOT.resolve("sd-tiny-golden.safetensors");
    /** The ControlNet of {@code tools/make_controlnet_fixtures.py}, fitted to {@link #PIPELINE}. */
    public static final Path CONTROLNET = ROOT.resolve("sd-tiny-controlnet");
    private static final Path CONTROL_TENSORS = ROOT.resolve("controlnet-golden.safetensors");

    private SdFixtures() {
    }

    public static JsonNode golden() {
        try {
            return new ObjectMapper().readTree(ROOT.resolve("sd-tiny-golden.json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The ControlNet fixtures' {@code controlnet-golden.json}. */
    public static JsonNode controlGolden() {
        try {
            return new ObjectMapper().readTree(ROOT.resolve("controlnet-golden.json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A golden float tensor of the ControlNet fixtures, flattened row-major. */
    public static float[] controlTensor(String name) {
        return tensor(CONTROL_TENSORS, name);
    }

    /** A golden float tensor, flattened row-major. */
    public static float[] tensor(String name) {
        return tensor(TENSORS, name);
    }

    private static float[] tensor(Path file, String name) {
        try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
            TensorInfo t = f.tensors().get(name);
            if (t == null) throw new IllegalArgumentException("no golden tensor " + name);
            return f.readFloats(t);
        }
    }

    /** A golden tensor's shape in the ControlNet fixtures. */
    public static long[] controlShape(String name) {
        try (SafeTensorsFile f = SafeTensorsFile.open(CONTROL_TENSORS)) {
            return f.tensors().get(name).shape();
        }
    }

    /** A golden tensor's shape. */
    public static long[] shape(String name) {
        try (SafeTensorsFile f = SafeTensorsFile.open(TENSORS)) {
            return f.tensors().get(name).shape();
        }
    }

    public static double maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) throw new IllegalArgumentException(a.length + " != " + b.length);
        double m = 0;
        for (int i = 0; i < b.length; i++) {
            if (Float.isNaN(a[i])) return Double.NaN;
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }
}
