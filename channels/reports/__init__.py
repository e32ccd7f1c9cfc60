"""Reports as files people open: CSV and XLSX for spreadsheets, PDF for reading.

The figures come from the engine (`engine.aging`, `engine.statement`,
`engine.subledger`); here they are laid out once as sheets (`sheet`, `tables`) that
the CSV and XLSX writers both take, and as pages in the creditor's branding (`pdf`,
`statement_pdf`, `aged_pdf`, with the chart drawn by `chart`).
"""
