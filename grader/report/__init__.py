"""What people read: the instructor report, feedback pages, plots and grade exports."""
