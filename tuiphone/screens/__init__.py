"""tuiphone.screens"""
