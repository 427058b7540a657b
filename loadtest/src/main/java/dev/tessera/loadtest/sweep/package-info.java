/** Runs a load at one or several request rates, shows progress, and writes the summary table, JSON and raw JSONL. */
@NullMarked
package dev.tessera.loadtest.sweep;

import org.jspecify.annotations.NullMarked;
