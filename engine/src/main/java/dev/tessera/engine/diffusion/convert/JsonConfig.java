package dev.tessera.engine.diffusion.convert;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tessera.engine.checkpoint.CheckpointException;
import dev.tessera.engine.diffusion.DiffusersLayout;
import org.jspecify.annotations.Nullable;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A component's config file, read with the defaults diffusers and transformers use; a value of the wrong type is a
 * {@link CheckpointException} naming the file and the key.
 */
public record JsonConfig(Path file, JsonNode root) {
    public static JsonConfig read(Path file) {
        return new JsonConfig(file, DiffusersLayout.readJson(file));
    }

    public boolean has(String key) {
        JsonNode n = root.get(key);
        return n != null && !n.isNull();
    }

    public int intOr(String key, int dflt) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) return dflt;
        if (!n.canConvertToInt() || !n.isIntegralNumber()) throw bad(key, "an integer");
        return n.asInt();
    }

    public int requireInt(String key) {
        if (!has(key)) throw new CheckpointException(file, null, "missing " + key);
        return intOr(key, 0);
    }

    public double doubleOr(String key, double dflt) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) return dflt;
        if (!n.isNumber()) throw bad(key, "a number");
        return n.asDouble();
    }

    public boolean boolOr(String key, boolean dflt) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) return dflt;
        if (!n.isBoolean()) throw bad(key, "true or false");
        return n.asBoolean();
    }

    public @Nullable String stringOr(String key, @Nullable String dflt) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) return dflt;
        if (!n.isTextual()) throw bad(key, "a string");
        return n.asText();
    }

    /** An integer list, or one integer repeated {@code count} times (diffusers accepts both). */
    public int[] intsOr(String key, int count, int @Nullable [] dflt) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            if (dflt == null) throw new CheckpointException(file, null, "missing " + key);
            return dflt;
        }
        if (n.isIntegralNumber()) {
            int[] out = new int[count];
            java.util.Arrays.fill(out, n.asInt());
            return out;
        }
        if (!n.isArray()) throw bad(key, "an integer or a list of integers");
        int[] out = new int[n.size()];
        for (int i = 0; i < out.length; i++) {
            if (!n.get(i).isIntegralNumber()) throw bad(key, "a list of integers");
            out[i] = n.get(i).asInt();
        }
        return out;
    }

    public List<String> strings(String key) {
        JsonNode n = root.get(key);
        if (n == null || !n.isArray()) throw bad(key, "a list of strings");
        List<String> out = new ArrayList<>();
        for (JsonNode e : n) out.add(e.asText());
        return out;
    }

    /** A {@link CheckpointException} saying that {@code key} is not supported with its value. */
    public CheckpointException unsupported(String key, String why) {
        return new CheckpointException(file, null, "unsupported " + key + " = " + root.get(key) + ": " + why);
    }

    private CheckpointException bad(String key, String expected) {
        return new CheckpointException(file, null, key + " must be " + expected + ", not " + root.get(key));
    }
}
