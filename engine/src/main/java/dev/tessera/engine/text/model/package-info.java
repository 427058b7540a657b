/** What a loaded decoder is: its Hugging Face configuration ({@code ModelConfig}) and the serving summary ({@code ModelInfo}). */
@NullMarked
package dev.tessera.engine.text.model;

import org.jspecify.annotations.NullMarked;
