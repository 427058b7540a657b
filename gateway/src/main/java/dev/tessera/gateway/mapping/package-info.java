/**
 * Proto to domain and back, one mapper per job kind ({@code GenerateMapper}, {@code DetectMapper}) plus the shared
 * ones (images, events, model cards). Mapping only: the serving core validates.
 */
@NullMarked
package dev.tessera.gateway.mapping;

import org.jspecify.annotations.NullMarked;
