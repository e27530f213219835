//! Reading a fleet: its files, the repository charts its services name, its policy files.

use std::path::Path;

use compiler::FleetFiles;

use crate::PipelineError;

/// Reads the fleet's files and adds the repository charts its services name, from the chart
/// cache or fetched into it.
pub fn read_fleet(fleet: &Path) -> Result<FleetFiles, PipelineError> {
    let mut files = compiler::read_dir(fleet).map_err(PipelineError::Fleet)?;
    fetch_charts(&mut files)?;
    Ok(files)
}

/// Adds the repository charts the services of `files` name, from the chart cache or fetched into it.
pub fn fetch_charts(files: &mut FleetFiles) -> Result<(), PipelineError> {
    if compiler::remote::repository_charts(files).is_empty() {
        return Ok(());
    }
    let fetcher = helm::fetch::ChartFetcher::from_env().map_err(PipelineError::Fetcher)?;
    compiler::remote::fetch_into(files, &fetcher).map_err(PipelineError::Chart)
}

/// The fleet's policy files alone (the compile reads the rest), named in diagnostics as the
/// compiler names the fleet's files.
pub fn policy_files(fleet: &Path) -> FleetFiles {
    let mut files = FleetFiles::default();
    policies::read_files(fleet, &mut files);
    let mut shown = fleet.to_string_lossy().replace('\\', "/");
    if shown == "." {
        shown.clear();
    } else if !shown.ends_with('/') {
        shown.push('/');
    }
    files.display_root = shown;
    files
}
