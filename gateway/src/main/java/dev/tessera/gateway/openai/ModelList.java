package dev.tessera.gateway.openai;

import dev.tessera.scheduler.core.ModelCard;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Locale;

/**
 * {@code GET /v1/models}: every served model as an OpenAI model object ({@code id}, {@code object: "model"},
 * {@code created}, {@code owned_by}), plus what this server knows of it: {@code kind} ({@code text_generation},
 * {@code detection}...), whether it is its kind's default, and a text model's {@code max_model_len}. Only text
 * models answer the completion endpoints.
 */
final class ModelList {
    private ModelList() {
    }

    static JsonObject json(List<ModelCard> cards, long created) {
        JsonArray data = new JsonArray();
        for (ModelCard c : cards) {
            JsonObject m = new JsonObject().put("id", c.name()).put("object", "model").put("created", created)
                    .put("owned_by", "tessera").put("root", c.name()).putNull("parent")
                    .put("kind", c.kind().name().toLowerCase(Locale.ROOT)).put("architecture", c.architecture())
                    .put("default", c.isDefault());
            if (c.maxModelLen() > 0) m.put("max_model_len", c.maxModelLen());
            if (c.takesImages()) m.put("input_modalities", new JsonArray().add("text").add("image"));
            data.add(m);
        }
        return new JsonObject().put("object", "list").put("data", data);
    }
}
