//! The model registry: `<models>/registry.json` lists every model trained into a models folder, with its
//! training window, validation metrics and status, and names the champion (the model `--model champion`
//! scores with).
//!
//! A model's directory is renamed into place before the registry names it, and the registry itself is
//! written to a temporary file and renamed over the old one, so a crash at any point leaves a registry
//! that only names complete models (at worst a complete model directory that no entry names yet).
//!
//! Runs that write into the same folder at once take turns: the registry is changed only through a
//! [`LockedRegistry`], which holds an exclusive lock on `<models>/.registry.lock` from reading the registry
//! to writing it back, so no run overwrites another's entry and only one can make the first champion.

use std::fs::{File, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::artifact::{Artifact, ArtifactError};
use crate::model::ModelKind;

/// The registry file's name inside a models folder.
pub const REGISTRY_FILE: &str = "registry.json";

/// The registry format this pql writes and reads.
pub const REGISTRY_VERSION: u32 = 1;

/// The file locked while a run changes the registry (it stays, empty, in the folder).
pub const LOCK_FILE: &str = ".registry.lock";

/// Where a model stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Trained, not (yet) scoring.
    Candidate,
    /// The model that scores.
    Champion,
    /// A former champion.
    Retired,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Candidate => "candidate",
            Status::Champion => "champion",
            Status::Retired => "retired",
        })
    }
}

/// One model in the registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The model's id (its directory name).
    pub model_id: String,
    /// The family.
    pub kind: ModelKind,
    /// First training snapshot (`YYYY-MM-DD`).
    pub window_first: String,
    /// Last training snapshot.
    pub window_last: String,
    /// Labelled rows trained on.
    pub rows: usize,
    /// Validation ROC AUC (calibrated).
    pub roc_auc: f64,
    /// Validation log loss (calibrated).
    pub log_loss: f64,
    /// Where it stands.
    pub status: Status,
    /// The latest change of status and why, for people.
    pub note: String,
}

/// Every model of a models folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registry {
    /// [`REGISTRY_VERSION`] when written.
    pub format_version: u32,
    /// The champion's id, if any.
    pub champion: Option<String>,
    /// The models, in registration order.
    pub models: Vec<Entry>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            format_version: REGISTRY_VERSION,
            champion: None,
            models: Vec::new(),
        }
    }
}

impl Registry {
    /// Reads `<models>/registry.json`; an empty registry when the file does not exist yet.
    pub fn load(models: &Path) -> Result<Registry, ArtifactError> {
        let path = models.join(REGISTRY_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Registry::default()),
            Err(source) => return Err(ArtifactError::Io { path, source }),
        };
        let registry: Registry = serde_json::from_str(&text).map_err(|e| ArtifactError::Invalid {
            path: path.clone(),
            message: format!("damaged model registry: {e}"),
        })?;
        if registry.format_version != REGISTRY_VERSION {
            return Err(ArtifactError::Invalid {
                path,
                message: format!(
                    "registry format version {}; this pql reads version {REGISTRY_VERSION}",
                    registry.format_version
                ),
            });
        }
        Ok(registry)
    }

    /// Takes the exclusive lock on `models` (creating the folder if needed) and reads its registry. When
    /// another process holds the lock, `waiting` is called once with the lock file's path, then this waits
    /// until the lock is free.
    pub fn lock(models: &Path, waiting: impl FnOnce(&Path)) -> Result<LockedRegistry, ArtifactError> {
        let path = models.join(LOCK_FILE);
        let io = |source| ArtifactError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(models).map_err(io)?;
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                waiting(&path);
                file.lock().map_err(io)?;
            }
            Err(TryLockError::Error(source)) => return Err(io(source)),
        }
        Ok(LockedRegistry {
            registry: Registry::load(models)?,
            models: models.to_path_buf(),
            _lock: file,
        })
    }

    /// Writes `<models>/registry.json` atomically (temporary file beside it, synced, renamed).
    fn save(&self, models: &Path) -> Result<(), ArtifactError> {
        let path = models.join(REGISTRY_FILE);
        let io = |source| ArtifactError::Io {
            path: path.clone(),
            source,
        };
        let mut file = pql_data::output::staging_file(models, "registry").map_err(io)?;
        let text = serde_json::to_string_pretty(self).expect("a registry is plain data");
        file.write_all(text.as_bytes()).map_err(io)?;
        file.as_file().sync_all().map_err(io)?;
        file.persist(&path).map_err(|e| io(e.error))?;
        Ok(())
    }

    /// Adds a saved model as a candidate (again, if it is already listed: the same id is the same model);
    /// the first model of an empty registry becomes the champion.
    fn register(&mut self, artifact: &Artifact) {
        let t = &artifact.training;
        let entry = Entry {
            model_id: artifact.model_id.clone(),
            kind: artifact.kind,
            window_first: t.window.first.clone(),
            window_last: t.window.last.clone(),
            rows: t.window.rows,
            roc_auc: artifact.metrics.roc_auc,
            log_loss: artifact.metrics.log_loss,
            status: Status::Candidate,
            note: "trained".to_string(),
        };
        match self.models.iter_mut().find(|e| e.model_id == entry.model_id) {
            Some(existing) => {
                let (status, note) = (existing.status, existing.note.clone());
                *existing = Entry { status, note, ..entry };
            }
            None => self.models.push(entry),
        }
        if self.champion.is_none() {
            self.promote(&artifact.model_id, "the first model of this folder");
        }
    }

    /// Makes `model_id` the champion and retires the previous one, recording why.
    ///
    /// # Panics
    /// If `model_id` is not registered.
    fn promote(&mut self, model_id: &str, why: &str) {
        for entry in &mut self.models {
            if entry.status == Status::Champion && entry.model_id != model_id {
                entry.status = Status::Retired;
                entry.note = format!("retired for {model_id}");
            }
        }
        let entry = self
            .models
            .iter_mut()
            .find(|e| e.model_id == model_id)
            .expect("only registered models are promoted");
        entry.status = Status::Champion;
        entry.note = format!("champion: {why}");
        self.champion = Some(model_id.to_string());
    }

    /// Records why a registered model's status did not change (e.g. a challenger kept out).
    fn annotate(&mut self, model_id: &str, note: &str) {
        if let Some(entry) = self.models.iter_mut().find(|e| e.model_id == model_id) {
            entry.note = note.to_string();
        }
    }

    /// The champion's directory inside `models`.
    pub fn champion_dir(&self, models: &Path) -> Result<PathBuf, ArtifactError> {
        let id = self.champion.as_ref().ok_or_else(|| ArtifactError::Invalid {
            path: models.join(REGISTRY_FILE),
            message: "no champion model yet: train one with `pql train --out <this folder>`".into(),
        })?;
        Ok(models.join(id))
    }
}

/// A folder's registry read under its exclusive lock (see [`Registry::lock`]): the only way to change
/// `registry.json`. Read it through `Deref`; the changes are written by [`LockedRegistry::commit`], and the
/// lock is released when it is dropped (also when a change is abandoned).
#[derive(Debug)]
pub struct LockedRegistry {
    registry: Registry,
    models: PathBuf,
    _lock: File,
}

impl std::ops::Deref for LockedRegistry {
    type Target = Registry;

    fn deref(&self) -> &Registry {
        &self.registry
    }
}

impl LockedRegistry {
    /// Adds a saved model as a candidate (again, if it is already listed: the same id is the same model);
    /// the first model of an empty registry becomes the champion.
    pub fn register(&mut self, artifact: &Artifact) {
        self.registry.register(artifact);
    }

    /// Makes `model_id` the champion and retires the previous one, recording why.
    /// Fails, changing nothing, when `model_id` is not registered.
    pub fn promote(&mut self, model_id: &str, why: &str) -> Result<(), ArtifactError> {
        if !self.registry.models.iter().any(|e| e.model_id == model_id) {
            return Err(ArtifactError::UnknownModel {
                path: self.models.join(REGISTRY_FILE),
                model_id: model_id.to_string(),
            });
        }
        self.registry.promote(model_id, why);
        Ok(())
    }

    /// Records why a registered model's status did not change (e.g. a challenger kept out).
    pub fn annotate(&mut self, model_id: &str, note: &str) {
        self.registry.annotate(model_id, note);
    }

    /// Writes the registry atomically, releases the lock and returns what was written.
    pub fn commit(self) -> Result<Registry, ArtifactError> {
        self.registry.save(&self.models)?;
        Ok(self.registry)
    }
}

/// A model's metrics pooled over the comparison snapshots (weighted by their rows).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    /// Labelled rows.
    pub rows: usize,
    /// Mean log loss.
    pub log_loss: f64,
    /// Expected calibration error.
    pub ece: f64,
}

impl Evaluation {
    /// Pools per-snapshot `(rows, log loss, ECE)` by rows.
    pub fn pool(snapshots: &[(usize, f64, f64)]) -> Evaluation {
        let rows: usize = snapshots.iter().map(|s| s.0).sum();
        let weight = |f: fn(&(usize, f64, f64)) -> f64| {
            snapshots.iter().map(|s| s.0 as f64 * f(s)).sum::<f64>() / rows.max(1) as f64
        };
        Evaluation {
            rows,
            log_loss: weight(|s| s.1),
            ece: weight(|s| s.2),
        }
    }
}

/// What a retrain does with its challenger.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// The challenger becomes the champion, because…
    Promote(String),
    /// The champion stays, because…
    Keep(String),
}

/// A feature varied in a model's training data when no bin of its profile holds more than this share, so
/// that a rare event going quiet for a week is not mistaken for a broken feed.
const VARIED: f64 = 0.9;

/// Why a challenger may not replace the champion whatever its metrics: features the champion uses that
/// it lacks, features that varied in the champion's training data (see [`VARIED`]) but are constant in the
/// challenger's (a broken event feed looks like this), and a calibration error above `max_ece` on the
/// comparison rows.
pub fn sanity_problems(
    champion: &Artifact,
    challenger: &Artifact,
    evaluation: &Evaluation,
    max_ece: f64,
) -> Vec<String> {
    let mut problems = Vec::new();
    let has = |artifact: &Artifact, name: &str| artifact.features.iter().position(|f| f.name == name);
    let missing: Vec<&str> = champion
        .features
        .iter()
        .map(|f| f.name.as_str())
        .filter(|name| has(challenger, name).is_none())
        .collect();
    if !missing.is_empty() {
        problems.push(format!("it lacks features the champion uses: {}", missing.join(", ")));
    }
    let constant = |artifact: &Artifact, i: usize| artifact.profile.features[i].edges.is_empty();
    let varied = |i: usize| champion.profile.features[i].shares.iter().all(|&share| share <= VARIED);
    let dead: Vec<&str> = champion
        .features
        .iter()
        .enumerate()
        .filter_map(|(i, f)| Some((i, f, has(challenger, &f.name)?)))
        .filter(|&(i, _, j)| varied(i) && constant(challenger, j))
        .map(|(_, f, _)| f.name.as_str())
        .collect();
    if !dead.is_empty() {
        problems.push(format!(
            "features that varied for the champion are constant in its latest training snapshot (a broken \
             event feed?): {}",
            dead.join(", ")
        ));
    }
    if evaluation.ece > max_ece {
        problems.push(format!(
            "its calibration error {:.4} on the comparison snapshots is above {max_ece}",
            evaluation.ece
        ));
    }
    problems
}

/// Promotes the challenger when it has no sanity problems and its log loss is lower than the champion's
/// by more than the relative `margin` on the same rows.
pub fn decide(champion: &Evaluation, challenger: &Evaluation, margin: f64, problems: &[String]) -> Decision {
    let gain = 1.0 - challenger.log_loss / champion.log_loss;
    let comparison = format!(
        "log loss {:.5} against the champion's {:.5} on the same {} rows ({:+.2}%, margin {:.2}%)",
        challenger.log_loss,
        champion.log_loss,
        challenger.rows,
        -100.0 * gain,
        100.0 * margin
    );
    if !problems.is_empty() {
        Decision::Keep(format!(
            "the challenger fails sanity checks: {} ({comparison})",
            problems.join("; ")
        ))
    } else if gain > margin {
        Decision::Promote(comparison)
    } else {
        Decision::Keep(format!("the challenger is not better by the margin: {comparison}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> Entry {
        Entry {
            model_id: id.into(),
            kind: ModelKind::Logistic,
            window_first: "2025-01-06".into(),
            window_last: "2025-06-02".into(),
            rows: 10,
            roc_auc: 0.7,
            log_loss: 0.2,
            status: Status::Candidate,
            note: String::new(),
        }
    }

    #[test]
    fn the_challenger_is_promoted_only_when_better_by_the_margin_and_calibrated() {
        let champion = Evaluation::pool(&[(100, 0.20, 0.01), (300, 0.20, 0.01)]);
        assert_eq!(champion.rows, 400);
        let better = Evaluation::pool(&[(100, 0.16, 0.01), (300, 0.19, 0.02)]);
        assert!((better.log_loss - 0.1825).abs() < 1e-12 && (better.ece - 0.0175).abs() < 1e-12);
        assert!(matches!(decide(&champion, &better, 0.05, &[]), Decision::Promote(_)));
        assert!(matches!(decide(&champion, &better, 0.10, &[]), Decision::Keep(_)));
        let problems = vec!["its calibration error 0.0800 is above 0.05".to_string()];
        let Decision::Keep(why) = decide(&champion, &better, 0.0, &problems) else {
            panic!("a challenger with a sanity problem is kept out")
        };
        assert!(
            why.contains("fails sanity checks: its calibration error 0.0800"),
            "{why}"
        );
    }

    #[test]
    fn promoting_retires_the_previous_champion_only() {
        let mut registry = Registry {
            models: vec![entry("a"), entry("b"), entry("c")],
            ..Registry::default()
        };
        registry.promote("a", "first");
        registry.promote("b", "better");
        let statuses: Vec<Status> = registry.models.iter().map(|e| e.status).collect();
        assert_eq!(statuses, [Status::Retired, Status::Champion, Status::Candidate]);
        assert_eq!(registry.champion.as_deref(), Some("b"));
        assert_eq!(registry.models[0].note, "retired for b");
    }

    #[test]
    fn a_missing_file_is_an_empty_registry_and_a_saved_one_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Registry::load(dir.path()).unwrap(), Registry::default());
        let mut locked = Registry::lock(dir.path(), |_| panic!("nobody else holds the lock")).unwrap();
        assert_eq!(*locked, Registry::default());
        let err = locked.promote("a", "first").unwrap_err().to_string();
        assert!(err.contains("registry.json lists no model \"a\""), "{err}");
        assert_eq!(*locked, Registry::default(), "a refused promotion changes nothing");
        locked.registry.models.push(entry("a"));
        locked.promote("a", "first").unwrap();
        let saved = locked.commit().unwrap();
        assert_eq!(saved.champion.as_deref(), Some("a"));
        assert_eq!(Registry::load(dir.path()).unwrap(), saved);
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, [LOCK_FILE, REGISTRY_FILE], "no temporary file left");
        std::fs::write(dir.path().join(REGISTRY_FILE), "{").unwrap();
        let err = Registry::lock(dir.path(), |_| ()).unwrap_err().to_string();
        assert!(err.contains("registry.json: damaged model registry"), "{err}");
    }

    #[test]
    fn a_second_locker_waits_until_the_first_commits_and_reads_its_change() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = Registry::lock(dir.path(), |_| panic!("nobody else holds the lock")).unwrap();
        let (events, received) = std::sync::mpsc::channel();
        let models = dir.path().to_path_buf();
        let second = std::thread::spawn(move || {
            let waiting = events.clone();
            let locked = Registry::lock(&models, move |lock| {
                assert!(lock.ends_with(LOCK_FILE));
                waiting.send("waiting").unwrap();
            })
            .unwrap();
            events.send("locked").unwrap();
            locked.champion.clone()
        });
        // The second locker finds the lock taken (it cannot have it while `first` lives) ...
        assert_eq!(received.recv().unwrap(), "waiting");
        first.registry.models.push(entry("a"));
        first.promote("a", "first").unwrap();
        first.commit().unwrap();
        // ... and gets it once `first` is gone, reading what `first` wrote.
        assert_eq!(received.recv().unwrap(), "locked");
        assert_eq!(second.join().unwrap().as_deref(), Some("a"));
    }

    #[cfg(unix)]
    #[test]
    fn the_registry_file_gets_the_mode_of_any_new_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |name: &str| std::fs::metadata(dir.path().join(name)).unwrap().permissions().mode() & 0o777;
        Registry::lock(dir.path(), |_| ()).unwrap().commit().unwrap();
        std::fs::write(dir.path().join("any"), "").unwrap();
        assert_eq!(
            mode(REGISTRY_FILE),
            mode("any"),
            "umask-respecting, not tempfile's 0600"
        );
    }
}
