-- Schema version 15: the training loss a model's revisions publish (issue #38, item 4): the Hugging Face Trainer's
-- trainer_state.json log_history (its "loss" entries) of the newest revision that has one; the reference's build
-- writes the same. One row per logged step; replaced whenever an ingest reads a longer history.
CREATE TABLE training_loss (
    model VARCHAR NOT NULL,
    step  BIGINT NOT NULL,
    loss  DOUBLE NOT NULL,
    PRIMARY KEY (model, step)
);
