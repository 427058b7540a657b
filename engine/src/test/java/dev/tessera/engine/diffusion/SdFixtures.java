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

    private SdFixtures() {
    }

    public static JsonNode golden() {
        try {
            return new ObjectMapper().readTree(ROOT.resolve("sd-tiny-golden.json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A golden float tensor, flattened row-major. */
    public static float[] tensor(String name) {
        try (SafeTensorsFile f = SafeTensorsFile.open(TENSORS)) {
            TensorInfo t = f.tensors().get(name);
            if (t == null) throw new IllegalArgumentException("no golden tensor " + name);
            return f.readFloats(t);
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
