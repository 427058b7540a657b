package dev.tessera.scheduler.core;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * The served models by name, and the default model of each kind (the first registered of that kind), so that a
 * request names its model or gets the default of its kind. Immutable; thread-safe.
 */
public final class ModelRegistry {
    private final Map<String, ServedModel> byName = new LinkedHashMap<>();
    private final Map<ModelKind, ServedModel> defaults = new EnumMap<>(ModelKind.class);

    /**
     * @param models the served models, in order; names must be unique
     * @throws IllegalArgumentException on a duplicate name
     */
    public ModelRegistry(List<? extends ServedModel> models) {
        for (ServedModel m : models) {
            String name = m.card().name();
            if (byName.putIfAbsent(name, m) != null) {
                throw new IllegalArgumentException("two models are named '" + name + "'; name them apart");
            }
            defaults.putIfAbsent(m.card().kind(), m);
        }
    }

    /** Every served model's card, in registration order, each marked default or not. */
    public List<ModelCard> cards() {
        List<ModelCard> out = new ArrayList<>();
        for (ServedModel m : byName.values()) {
            out.add(m.card().withDefault(defaults.get(m.card().kind()) == m));
        }
        return out;
    }

    /** Every served model, in registration order. */
    public List<ServedModel> models() {
        return List.copyOf(byName.values());
    }

    /**
     * The model a request of {@code kind} asks for.
     *
     * @param name the request's model field; empty for the default of {@code kind}
     * @throws JobException NOT_FOUND for an unknown name, INVALID_ARGUMENT ({@code model}) for a model of another
     *                      kind, UNIMPLEMENTED when no model of {@code kind} is served
     */
    public <M extends ServedModel> M resolve(String name, ModelKind kind, Class<M> type) {
        Objects.requireNonNull(name, "name");
        ServedModel m;
        if (name.isEmpty()) {
            m = defaults.get(kind);
            if (m == null) {
                throw JobFailure.of(JobFailure.Code.UNIMPLEMENTED, "no " + describe(kind)
                        + " model is served here; this server serves " + byName.keySet()).exception();
            }
        } else {
            m = byName.get(name);
            if (m == null) {
                throw JobFailure.of(JobFailure.Code.NOT_FOUND, "model " + JobFailure.quote(name)
                        + " is not served here; available: " + byName.keySet()).exception();
            }
            if (m.card().kind() != kind) {
                throw JobFailure.invalid("model", "model " + JobFailure.quote(name) + " is a "
                        + describe(m.card().kind()) + " model, not a " + describe(kind) + " model").exception();
            }
        }
        if (!type.isInstance(m)) {
            throw JobFailure.of(JobFailure.Code.UNIMPLEMENTED, describe(kind) + " is not available here")
                    .exception();
        }
        return type.cast(m);
    }

    /** "text generation", "detection", "diffusion". */
    public static String describe(ModelKind kind) {
        return kind.name().toLowerCase(Locale.ROOT).replace('_', ' ');
    }
}
