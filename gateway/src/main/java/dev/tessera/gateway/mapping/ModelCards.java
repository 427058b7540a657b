package dev.tessera.gateway.mapping;

import dev.tessera.api.v1.ListModelsResponse;
import dev.tessera.api.v1.ModelCard;
import dev.tessera.api.v1.ModelKind;
import java.util.List;

/** Maps the served models to {@code ListModelsResponse}. */
public final class ModelCards {
    private ModelCards() {
    }

    public static ListModelsResponse toProto(List<dev.tessera.scheduler.core.ModelCard> cards) {
        ListModelsResponse.Builder b = ListModelsResponse.newBuilder();
        for (dev.tessera.scheduler.core.ModelCard c : cards) {
            b.addModels(ModelCard.newBuilder().setName(c.name()).setKind(kind(c.kind()))
                    .setArchitecture(c.architecture()).setMaxModelLen(c.maxModelLen()).setVocabSize(c.vocabSize())
                    .setIsDefault(c.isDefault()).addAllLabels(c.labels()).setTakesImages(c.takesImages()));
        }
        return b.build();
    }

    static ModelKind kind(dev.tessera.scheduler.core.ModelKind k) {
        return switch (k) {
            case TEXT_GENERATION -> ModelKind.MODEL_KIND_TEXT_GENERATION;
            case DETECTION -> ModelKind.MODEL_KIND_DETECTION;
            case DIFFUSION -> ModelKind.MODEL_KIND_DIFFUSION;
        };
    }
}
